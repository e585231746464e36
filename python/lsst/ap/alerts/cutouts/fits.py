# This file is part of ap_alerts.
#
# Developed for the LSST Data Management System.
# This product includes software developed by the LSST Project
# (https://www.lsst.org).
# See the COPYRIGHT file at the top-level directory of this distribution
# for details of code ownership.
#
# This program is free software: you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation, either version 3 of the License, or
# (at your option) any later version.
#
# This program is distributed in the hope that it will be useful,
# but WITHOUT ANY WARRANTY; without even the implied warranty of
# MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
# GNU General Public License for more details.
#
# You should have received a copy of the GNU General Public License
# along with this program.  If not, see <https://www.gnu.org/licenses/>.

"""The cutout FITS layout, in one place, and a writer that emits it without astropy.

A cutout is one FITS file:

==========  =======  ==============================================================
HDU         BITPIX   content
==========  =======  ==============================================================
PRIMARY     -32      calibrated image (nJy); ``CUTMINX``/``CUTMINY`` (FITS pixel
                     i is parent pixel i + CUTMIN), ``ROTPA`` when known, ``BUNIT``,
                     and the local TAN WCS as astropy writes it (PC + CDELT,
                     LONPOLE, LATPOLE, MJDREF, RADESYS, wcslib's comments)
UNCERT      -32      variance (nJy²), ``UTYPE = 'VarianceUncertainty'``
PSFIMAGE    -64      PSF kernel image, when the PSF could be evaluated
AFWMASK     32       optional (``cutoutMaskPlanes = "compressed"``): afw's mask
                     planes, tile-compressed (PLIO_1), one ``MP_<plane>`` = bit
                     key per plane
==========  =======  ==============================================================

The first three HDUs are byte for byte what astropy's ``CCDData.write``
writes for the cutout's `~astropy.nddata.CCDData` (upstream's
``streamCcdDataToBytes``); there is no ``MASK`` HDU, so ``CCDData.read``
gives no mask, as for upstream's alerts.  By default there is no AFWMASK
either, so an alert is exactly as large as upstream's; when present it is
written by astropy (`compressedMaskHdu`).  Files of earlier releases carry
an uncompressed int32 AFWMASK; readers take every layout.

``CCDData.write`` costs about 3 ms per cutout, most of it in astropy's
``Header``/``WCS`` objects.  `CutoutFitsWriter` formats the same cards from
templates (numbers as wcslib's ``% 20.14G`` and astropy's card rules) and
lays out the big-endian pixels directly.  A file's size follows from its
shapes alone, so every alert is sized first and each cutout is then written
straight into its alert's bytes.
"""

from __future__ import annotations

__all__ = [
    "AFWMASK_EXTNAME",
    "MASK_LAYOUTS",
    "CutoutFitsWriter",
    "PrimaryHeaders",
    "compressedMaskHdu",
]

import io
import math

import numpy as np

AFWMASK_EXTNAME = "AFWMASK"

MASK_LAYOUTS = {
    "none": "No mask HDU: the cutout is what upstream writes, and CCDData.read gives no mask.",
    "compressed": "afw's mask planes in a tile-compressed AFWMASK HDU (PLIO_1; GZIP_2 for planes "
    "PLIO cannot hold): two more FITS blocks (5,760 bytes) per cutout.",
}
"""Choices of ``PackageAlertsConfig.cutoutMaskPlanes``: how a cutout carries afw's mask planes."""

# PLIO_1 holds values in [0, 2**24) only.
_PLIO_LIMIT = 1 << 24

_BLOCK = 2880
_CARD = 80
_VALUE = 20  # width of a fixed-format value
# Marks a number's place in a header template (as wide as the number).
_SLOT = "\x00" * _VALUE
_WCS_FORMAT = "% 20.14G"  # wcslib's format when astropy asks for 14 digits (WCSHDO_P14)
_INT_FORMAT = "%20d"
_PC_KEYS = ("PC1_1", "PC1_2", "PC2_1", "PC2_2")
# wcslib leaves out PC elements equal to the identity's.
_PC_IDENTITY = (1.0, 0.0, 0.0, 1.0)


# -- cards as astropy formats them ------------------------------------------------


def _card(key: str, value: str, comment: str = "") -> str:
    text = f"{key:<8}= {value:>{_VALUE}}"
    return (f"{text} / {comment}" if comment else text).ljust(_CARD)


def _stringValue(value: str) -> str:
    quoted = "'" + value.replace("'", "''").ljust(8) + "'"
    return quoted.ljust(_VALUE)


def _logical(key: str, value: bool, comment: str = "") -> str:
    return _card(key, "T" if value else "F", comment)


def _axes(first: str, bitpix: int, shape) -> list[str]:
    """The mandatory cards of an image HDU (``first``: the SIMPLE or XTENSION card)."""
    return [
        first,
        _card("BITPIX", str(bitpix), "array data type"),
        _card("NAXIS", "2", "number of array dimensions"),
        _card("NAXIS1", str(int(shape[1]))),
        _card("NAXIS2", str(int(shape[0]))),
    ]


def _extensionCards(bitpix: int, shape, extname: str, extra: list[str] = ()) -> list[str]:
    cards = _axes(_card("XTENSION", _stringValue("IMAGE"), "Image extension"), bitpix, shape)
    cards += [_card("PCOUNT", "0", "number of parameters"), _card("GCOUNT", "1", "number of groups")]
    cards += list(extra)
    cards.append(_card("EXTNAME", _stringValue(extname), "extension name"))
    return cards


def _header(cards: list[str]) -> str:
    text = "".join(cards) + "END".ljust(_CARD)
    return text + " " * (-len(text) % _BLOCK)


def _paddedSize(nbytes: int) -> int:
    return nbytes + (-nbytes % _BLOCK)


# -- WCS cards as wcslib writes them (astropy's WCS.to_header) ----------------------


def _wcsCard(key: str, value: str, comment: str) -> str:
    """wcslib's keyrecord: ``%-8.8s= %-20s / %-47s``, a longer value shortening the comment."""
    width = 47 - max(len(value) - _VALUE, 0)
    return f"{key:<8}= {value:<{_VALUE}} / {comment[:width]:<{width}}"


def _wcsNumber(value: float) -> str:
    """A number as wcslib prints it: ``% 20.14G``, ``.0`` appended when that shows no point."""
    text = _WCS_FORMAT % value
    if "." in text or "E" in text:
        return text
    # wcslib shifts the digits left by one or two blanks to append the fraction.
    shift = 2 if text.startswith("  ") else 1 if text.startswith(" ") else 0
    return text[shift:] + ".0"[:shift]


def _wcsCards(numbers: dict[str, str], pcKeys, northPole: bool) -> list[str]:
    """The cards of the cutout's TAN WCS, in wcslib's order, from formatted numbers."""
    cards = [_wcsCard("WCSAXES", f"{2:20d}", "Number of coordinate axes")]
    cards += [
        _wcsCard(f"CRPIX{i}", numbers[f"CRPIX{i}"], "Pixel coordinate of reference point") for i in (1, 2)
    ]
    cards += [_wcsCard(key, numbers[key], "Coordinate transformation matrix element") for key in pcKeys]
    cards += [
        _wcsCard(f"CDELT{i}", _wcsNumber(1.0), "[deg] Coordinate increment at reference point")
        for i in (1, 2)
    ]
    cards += [_wcsCard(f"CUNIT{i}", "'deg'", "Units of coordinate increment and value") for i in (1, 2)]
    cards += [
        _wcsCard("CTYPE1", "'RA---TAN'", "Right ascension, gnomonic projection"),
        _wcsCard("CTYPE2", "'DEC--TAN'", "Declination, gnomonic projection"),
    ]
    cards += [
        _wcsCard(f"CRVAL{i}", numbers[f"CRVAL{i}"], "[deg] Coordinate value at reference point")
        for i in (1, 2)
    ]
    # A TAN projection's native pole: LONPOLE 180 unless the reference point is the north pole.
    cards += [
        _wcsCard(
            "LONPOLE", _wcsNumber(0.0 if northPole else 180.0), "[deg] Native longitude of celestial pole"
        ),
        _wcsCard("LATPOLE", numbers["CRVAL2"], "[deg] Native latitude of celestial pole"),
        _wcsCard("MJDREF", _wcsNumber(0.0), "[d] MJD of fiducial time"),
        _wcsCard("RADESYS", "'ICRS'", "Equatorial coordinate system"),
    ]
    return cards


class PrimaryHeaders:
    """PRIMARY headers of a visit's cutouts, formatted from cached templates.

    One per visit: the images of a visit share ROTPA, and images on the same
    WCS share their headers (the cache returns the same `bytes`).

    Parameters
    ----------
    rotPa : `float` or `None`
        Boresight rotation angle in degrees (``ROTPA``), or `None`.
    """

    def __init__(self, rotPa: float | None):
        self._rotPaCards = [] if rotPa is None else [_rotPaCard(rotPa)]
        self._templates: dict[tuple, tuple[str, int]] = {}
        self._headers: dict[tuple, bytes] = {}

    def header(self, shape, cutMinX: int, cutMinY: int, crpix, cdMatrix, crval) -> bytes:
        """The PRIMARY header (with its padding) of one cutout.

        Parameters
        ----------
        shape : `tuple` [`int`, `int`]
            Cutout (height, width).
        cutMinX, cutMinY : `int`
            ``CUTMINX``, ``CUTMINY``.
        crpix : `tuple` [`float`, `float`]
            FITS (1-based) reference pixel.
        cdMatrix : sequence of `float`
            CD1_1, CD1_2, CD2_1, CD2_2 in degrees per pixel.
        crval : `tuple` [`float`, `float`]
            Reference RA, Dec in degrees.

        Raises
        ------
        ValueError
            If a value is not finite (FITS cannot hold it).
        """
        key = (shape[0], shape[1], cutMinX, cutMinY, *crpix, *cdMatrix, *crval)
        header = self._headers.get(key)
        if header is None:
            header = self._headers[key] = self._format(shape, cutMinX, cutMinY, crpix, cdMatrix, crval)
        return header

    def _format(self, shape, cutMinX, cutMinY, crpix, cdMatrix, crval) -> bytes:
        floats = (*crpix, *cdMatrix, *crval)
        if not all(map(math.isfinite, floats)):
            raise ValueError(f"non-finite cutout header value in CRPIX {crpix}, CD {cdMatrix}, CRVAL {crval}")
        present = tuple(value != identity for value, identity in zip(cdMatrix, _PC_IDENTITY, strict=True))
        northPole = crval[1] == 90.0
        values = [v for v, keep in zip(cdMatrix, present, strict=True) if keep]
        if not any(map(float.is_integer, floats)):
            template, length = self._template(tuple(shape), present, northPole)
            text = template % (cutMinX, cutMinY, *crpix, *values, *crval, crval[1])
            if len(text) == length:
                return text.encode("ascii")
        # A whole number (wcslib appends ".0") or a number wider than its slot.
        numbers = dict(zip(("CRPIX1", "CRPIX2"), map(_wcsNumber, crpix), strict=True))
        numbers.update(zip(("CRVAL1", "CRVAL2"), map(_wcsNumber, crval), strict=True))
        pcKeys = [k for k, keep in zip(_PC_KEYS, present, strict=True) if keep]
        numbers.update(zip(pcKeys, map(_wcsNumber, values), strict=True))
        cards = self._leadingCards(shape, str(int(cutMinX)), str(int(cutMinY)))
        return _header(cards + _wcsCards(numbers, pcKeys, northPole)).encode("ascii")

    def _leadingCards(self, shape, cutMinX: str, cutMinY: str) -> list[str]:
        """The cards before the WCS: axes, CUTMINX/Y, ROTPA, BUNIT (CCDData's meta and unit)."""
        cards = _axes(_logical("SIMPLE", True, "conforms to FITS standard"), -32, shape)
        cards += [_logical("EXTEND", True), _card("CUTMINX", cutMinX), _card("CUTMINY", cutMinY)]
        return cards + self._rotPaCards + [_card("BUNIT", _stringValue("nJy"))]

    def _template(self, shape, present, northPole) -> tuple[str, int]:
        """A header with ``%`` slots for the numbers, and the length of a filled-in header."""
        key = (shape, present, northPole)
        cached = self._templates.get(key)
        if cached is None:
            pcKeys = [k for k, keep in zip(_PC_KEYS, present, strict=True) if keep]
            numbers = {k: _SLOT for k in ("CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2", *pcKeys)}
            text = _header(self._leadingCards(shape, _SLOT, _SLOT) + _wcsCards(numbers, pcKeys, northPole))
            formats = iter([_INT_FORMAT] * 2 + [_WCS_FORMAT] * (len(numbers) + 1))
            pieces = text.replace("%", "%%").split(_SLOT)
            template = pieces[0] + "".join(next(formats) + piece for piece in pieces[1:])
            cached = self._templates[key] = (template, len(text))
        return cached


def _rotPaCard(rotPa: float) -> str:
    """ROTPA as astropy formats a float (its own rules, once per visit)."""
    from astropy.io.fits import Card

    return Card("ROTPA", float(rotPa)).image


def compressedMaskHdu(mask: np.ndarray, maskPlanes: dict[str, int]) -> bytes:
    """The AFWMASK HDU of a cutout: afw's planes tile-compressed, as astropy writes them.

    PLIO_1 (IRAF's run-length code for masks, cfitsio's choice for them),
    one tile per cutout, is lossless for values in [0, 2**24); a mask using
    higher bits is compressed with GZIP_2 instead.  Readers (astropy, cfitsio, afw)
    decompress either transparently.

    Parameters
    ----------
    mask : `numpy.ndarray`
        The cutout's afw mask (any integer type), shape (height, width).
    maskPlanes : `dict` [`str`, `int`]
        Plane name → bit, written as ``MP_<name>`` keys.

    Returns
    -------
    hdu : `bytes`
        The whole extension HDU (header, compressed table, padding).
    """
    from astropy.io import fits

    data = np.asarray(mask, dtype=np.int32)
    plio = data.size == 0 or (int(data.min()) >= 0 and int(data.max()) < _PLIO_LIMIT)
    # One tile for the whole cutout: row tiles would cost a table row and a tile header per row.
    hdu = fits.CompImageHDU(
        data,
        name=AFWMASK_EXTNAME,
        compression_type="PLIO_1" if plio else "GZIP_2",
        tile_shape=data.shape,
    )
    for name, bit in sorted(maskPlanes.items(), key=lambda item: item[1]):
        key = f"MP_{name}"
        # Long names as explicit HIERARCH cards (no astropy warning), as afw writes them.
        hdu.header[key if len(key) <= 8 else f"HIERARCH {key}"] = bit
    with io.BytesIO() as stream:
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(stream)
        # An empty PRIMARY is one header block.
        return stream.getvalue()[_BLOCK:]


class CutoutFitsWriter:
    """Serialize the cutouts of one image as FITS files.

    Extension headers are built once per shape.
    """

    def __init__(self):
        self._headers: dict[tuple, bytes] = {}
        self._sizes: dict[tuple, int] = {}

    def _extensionHeader(self, kind: str, shape) -> bytes:
        """UNCERT and PSFIMAGE headers: fixed for a given shape."""
        key = (kind, tuple(shape))
        header = self._headers.get(key)
        if header is None:
            if kind == "UNCERT":
                cards = _extensionCards(
                    -32, shape, "UNCERT", [_card("UTYPE", _stringValue("VarianceUncertainty"))]
                )
            else:
                cards = _extensionCards(-64, shape, "PSFIMAGE")
            header = self._headers[key] = _header(cards).encode("ascii")
        return header

    def psfHdu(self, psf: np.ndarray) -> bytes:
        """The whole PSFIMAGE HDU (header, float64 pixels, padding) of a PSF kernel image."""
        data = np.ascontiguousarray(psf, dtype=">f8").tobytes()
        return self._extensionHeader("PSFIMAGE", psf.shape) + data + bytes(-len(data) % _BLOCK)

    def fileSize(self, shape, primaryHeader: bytes, psfHdu: bytes | None, maskHdu: bytes | None) -> int:
        """Size in bytes of the file `writeInto` writes for these parts."""
        key = (tuple(shape), len(primaryHeader), 0 if psfHdu is None else len(psfHdu))
        size = self._sizes.get(key)
        if size is None:
            pixels = _paddedSize(4 * shape[0] * shape[1])
            size = self._sizes[key] = (
                key[1] + key[2] + len(self._extensionHeader("UNCERT", shape)) + 2 * pixels
            )
        return size + (0 if maskHdu is None else len(maskHdu))

    def writeInto(
        self, out, offset: int, shape, primaryHeader: bytes, image, variance, psfHdu: bytes | None, maskHdu
    ) -> int:
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
            From `PrimaryHeaders.header`.
        image, variance : bytes-like
            The pixels as FITS stores them: calibrated image and variance as
            big-endian float32.
        psfHdu : `bytes` or `None`
            From `psfHdu`.
        maskHdu : `bytes` or `None`
            From `compressedMaskHdu`.

        Returns
        -------
        end : `int`
            Offset just past the file (``offset + fileSize(...)``).
        """
        padded = _paddedSize(4 * shape[0] * shape[1])
        uncertHeader = self._extensionHeader("UNCERT", shape)
        # Pixel data is followed by zero padding (already zero in ``out``).
        o = offset + len(primaryHeader)
        out[offset:o] = primaryHeader
        out[o : o + len(image)] = image
        o += padded
        out[o : o + len(uncertHeader)] = uncertHeader
        o += len(uncertHeader)
        out[o : o + len(variance)] = variance
        o += padded
        for hdu in (psfHdu, maskHdu):
            if hdu is not None:
                out[o : o + len(hdu)] = hdu
                o += len(hdu)
        return o
