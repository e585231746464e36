"""Write cutout FITS files directly, without astropy's writer.

``CCDData.write`` costs about 3 ms per cutout, most of it building astropy
``Header``/``WCS``/HDU objects; an alert has three cutouts.  `CutoutFitsWriter`
emits the same layout (`lsst.ap.alerts.cutouts.ccdData`: PRIMARY image + local TAN WCS,
UNCERT variance, PSFIMAGE, MASK planes) from a few formatted cards and the
big-endian array bytes.  ``CCDData.read`` reads both the same (tested).

A file's size follows from its shapes alone, so the task sizes every alert
first and then writes each cutout straight into its alert's bytes: the
parent's pixels are calibrated and byte-swapped into place in one pass, and
the block padding is the destination's zeros.
"""

from __future__ import annotations

__all__ = ["CutoutFitsWriter"]

import math

import numpy as np

_BLOCK = 2880
_CARD = 80


def _pad(data: bytes, fill: bytes) -> bytes:
    """Pad to a whole number of FITS blocks."""
    extra = -len(data) % _BLOCK
    return data + fill * extra if extra else data


def _card(key: str, value: str) -> str:
    """A fixed-format card: value right-justified to column 30 when it fits."""
    return f"{key:<8}= {value:>20}".ljust(_CARD)


def _int(key: str, value: int) -> str:
    return _card(key, str(int(value)))


def _string(key: str, value: str) -> str:
    quoted = "'" + value.replace("'", "''").ljust(8) + "'"
    return f"{key:<8}= {quoted:<20}".ljust(_CARD)


def _logical(key: str, value: bool) -> str:
    return _card(key, "T" if value else "F")


def _planeCard(name: str, bit: int) -> str:
    """``MP_<plane>`` card; names over 8 characters need HIERARCH, as afw and astropy write them."""
    key = f"MP_{name}"
    if len(key) <= 8:
        return _int(key, bit)
    return f"HIERARCH {key} = {int(bit)}".ljust(_CARD)


def _header(cards: list[str]) -> bytes:
    text = "".join(cards) + "END".ljust(_CARD)
    return _pad(text.encode("ascii"), b" ")


def _paddedSize(nbytes: int) -> int:
    return nbytes + (-nbytes % _BLOCK)


def _imageAxes(kind: str, bitpix: int, shape) -> list[str]:
    first = _logical("SIMPLE", True) if kind == "primary" else _string("XTENSION", "IMAGE")
    cards = [first, _int("BITPIX", bitpix), _int("NAXIS", 2), _int("NAXIS1", shape[1]),
             _int("NAXIS2", shape[0])]
    if kind == "primary":
        cards.append(_logical("EXTEND", True))
    else:
        cards += [_int("PCOUNT", 0), _int("GCOUNT", 1)]
    return cards


def _valueSlot(key: str, slot: str) -> str:
    """A card whose value is ``%``-formatted in later, right-justified to column 40.

    Free-format values are valid FITS for non-mandatory keywords; 30 columns
    hold a 17-significant-digit float (exact double round trip) in full.
    ``slot`` is `_INT` or `_FLOAT` (``#`` keeps the decimal point, ``G``
    gives FITS's upper-case exponent).
    """
    return f"{key:<8}= {slot}".ljust(_CARD - 30 + len(slot))


_INT = "%30d"
_FLOAT = "%#30.17G"
_WCS_KEYS = ("CRPIX1", "CRPIX2", "CD1_1", "CD1_2", "CD2_1", "CD2_2")
# Numbers of a PRIMARY header without ROTPA: CUTMINX/Y, the WCS keys, CRVAL1/2.
_PRIMARY_VALUES = 2 + len(_WCS_KEYS) + 2


class CutoutFitsWriter:
    """Serialize cutouts of one image as FITS files.

    Headers are templates built once per cutout shape; per cutout only the
    numbers are formatted in.

    Parameters
    ----------
    maskPlanes : `dict` [`str`, `int`]
        Mask plane name → bit number of the parent image, written as
        ``MP_<name>`` keys on the MASK HDU.
    """

    def __init__(self, maskPlanes: dict[str, int]):
        self._planeCards = [_planeCard(name, bit) for name, bit in sorted(maskPlanes.items(), key=lambda kv: kv[1])]
        self._templates: dict[tuple, str] = {}
        self._headers: dict[tuple, bytes] = {}
        self._sizes: dict[tuple, int] = {}
        self._layouts: dict[tuple, tuple] = {}

    def _primaryTemplate(self, shape, withRotPa: bool) -> str:
        key = (tuple(shape), withRotPa)
        template = self._templates.get(key)
        if template is None:
            cards = _imageAxes("primary", -32, shape)
            cards += [_valueSlot("CUTMINX", _INT), _valueSlot("CUTMINY", _INT)]
            if withRotPa:
                cards.append(_valueSlot("ROTPA", _FLOAT))
            cards += [_string("BUNIT", "nJy"), _int("WCSAXES", 2)]
            cards += [_valueSlot(k, _FLOAT) for k in _WCS_KEYS]
            cards += [_string("CUNIT1", "deg"), _string("CUNIT2", "deg"),
                      _string("CTYPE1", "RA---TAN"), _string("CTYPE2", "DEC--TAN"),
                      _valueSlot("CRVAL1", _FLOAT), _valueSlot("CRVAL2", _FLOAT), _string("RADESYS", "ICRS")]
            text = "".join(cards)
            template = text + "END".ljust(_CARD) + " " * (-(len(cards) + 1) * _CARD % _BLOCK)
            self._templates[key] = template
        return template

    def _extensionHeader(self, kind: str, shape) -> bytes:
        """UNCERT, MASK and PSFIMAGE headers: fixed for a given shape."""
        key = (kind, tuple(shape))
        header = self._headers.get(key)
        if header is None:
            if kind == "UNCERT":
                cards = _imageAxes("ext", -32, shape) + [_string("UTYPE", "VarianceUncertainty"),
                                                          _string("EXTNAME", "UNCERT")]
            elif kind == "MASK":
                cards = _imageAxes("ext", 32, shape) + [_string("EXTNAME", "MASK")] + self._planeCards
            else:
                cards = _imageAxes("ext", -64, shape) + [_string("EXTNAME", "PSFIMAGE")]
            header = self._headers[key] = _header(cards)
        return header

    @staticmethod
    def headerValues(cutMinX, cutMinY, crpixX, crpixY, cdMatrices, ra, dec, rotPa) -> np.ndarray:
        """The numbers of many PRIMARY headers, one row per cutout (what `primaryHeader` formats).

        Parameters
        ----------
        cutMinX, cutMinY : `numpy.ndarray`
            CUTMINX, CUTMINY (integers).
        crpixX, crpixY : `numpy.ndarray`
            FITS reference pixel (1-based).
        cdMatrices : `numpy.ndarray`
            (n, 2, 2) CD matrices, degrees per pixel.
        ra, dec : `numpy.ndarray`
            CRVAL in degrees.
        rotPa : `float` or `None`
            ROTPA in degrees, the same for all.
        """
        cd = np.asarray(cdMatrices, dtype=float).reshape(-1, 4)
        columns = [cutMinX, cutMinY] + ([] if rotPa is None else [np.full(len(cd), float(rotPa))])
        columns += [crpixX, crpixY, cd[:, 0], cd[:, 1], cd[:, 2], cd[:, 3], ra, dec]
        return np.column_stack([np.asarray(c, dtype=float) for c in columns])

    def primaryHeader(self, shape, values) -> bytes:
        """The PRIMARY header of one cutout.

        Parameters
        ----------
        shape : `tuple` [`int`, `int`]
            Cutout (height, width).
        values : `tuple` [`float`, ...]
            A row of `headerValues`: CUTMINX, CUTMINY, [ROTPA,] CRPIX1,
            CRPIX2, CD1_1, CD1_2, CD2_1, CD2_2, CRVAL1, CRVAL2.

        Raises
        ------
        ValueError
            If a value is not finite (FITS cannot hold it).
        """
        if not all(map(math.isfinite, values)):
            raise ValueError(f"non-finite cutout header value in {values}")
        withRotPa = len(values) > _PRIMARY_VALUES
        return (self._primaryTemplate(shape, withRotPa) % tuple(values)).encode("ascii")

    def psfHdu(self, psf: np.ndarray) -> bytes:
        """The whole PSFIMAGE HDU (header, float64 pixels, padding) of a PSF kernel image."""
        data = np.ascontiguousarray(psf, dtype=">f8").tobytes()
        return self._extensionHeader("PSFIMAGE", psf.shape) + data + bytes(-len(data) % _BLOCK)

    def fileSize(self, shape, primaryHeader: bytes, psfHdu: bytes | None) -> int:
        """Size in bytes of the file `writeInto` writes for these parts."""
        key = (shape, len(primaryHeader), 0 if psfHdu is None else len(psfHdu))
        size = self._sizes.get(key)
        if size is None:
            pixels = _paddedSize(4 * shape[0] * shape[1])
            size = self._sizes[key] = (key[1] + key[2] + len(self._extensionHeader("UNCERT", shape))
                                       + len(self._extensionHeader("MASK", shape)) + 3 * pixels)
        return size

    def writeInto(self, out, offset: int, shape, primaryHeader: bytes, image, variance, mask,
                  psfHdu: bytes | None) -> int:
        """Write one cutout's FITS file into ``out`` at ``offset``.

        Parameters
        ----------
        out : `memoryview`
            Writable byte buffer; the file's data padding there must
            already be zero (as in `numpy.zeros`).
        offset : `int`
            Where the file starts in ``out``.
        shape : `tuple` [`int`, `int`]
            Cutout (height, width).
        primaryHeader : `bytes`
            From `primaryHeader`.
        image, variance, mask : bytes-like
            The pixels as FITS stores them: calibrated image and variance as
            big-endian float32, mask planes as big-endian int32.
        psfHdu : `bytes` or `None`
            From `psfHdu`.

        Returns
        -------
        end : `int`
            Offset just past the file (``offset + fileSize(...)``).
        """
        layout = self._layouts.get(shape)
        if layout is None:
            layout = self._layouts[shape] = (self._extensionHeader("UNCERT", shape),
                                             self._extensionHeader("MASK", shape),
                                             _paddedSize(4 * shape[0] * shape[1]))
        uncertHeader, maskHeader, padded = layout
        # Pixel data is followed by zero padding (already zero in ``out``).
        o = offset + len(primaryHeader)
        out[offset:o] = primaryHeader
        out[o:o + len(image)] = image
        o += padded
        out[o:o + len(uncertHeader)] = uncertHeader
        o += len(uncertHeader)
        out[o:o + len(variance)] = variance
        o += padded
        if psfHdu is not None:
            out[o:o + len(psfHdu)] = psfHdu
            o += len(psfHdu)
        out[o:o + len(maskHeader)] = maskHeader
        o += len(maskHeader)
        out[o:o + len(mask)] = mask
        return o + padded
