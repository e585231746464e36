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

"""Celestial WCS of the image model: `SkyWcs` on top of `astropy.wcs`.

afw conventions kept:

* pixel positions are 0-based afw (parent) pixels; the FITS ``CRPIX`` is
  ``pixelOrigin + 1``;
* sky positions are ICRS.  A header in FK5 (equinox 2000) is converted
  once, at construction, to an exactly equivalent ICRS header (new
  ``CRVAL``, rotated ``CD``), using the same FK5 -> ICRS rotation that
  AST/afw use (``fk5hz``: Hipparcos frame orientation, with spin at the
  header's epoch, J2000 if none);
* ``makeSkyWcs(metadata)`` honours the ``A`` WCS (``CRVAL1A/CRVAL2A``) that
  afw writes to record ``xy0``, so a WCS read from an image HDU is in
  parent pixel coordinates.

Supported projections are those of FITS-WCS that astropy handles with CD
(or PC/CDELT) and SIP distortion; other distortions (lookup tables) are
refused with a clear error.  ``skyToPixel`` inverts SIP iteratively with a
tight tolerance (afw/AST may use the AP/BP inverse polynomials instead).
"""

from __future__ import annotations

__all__ = [
    "SkyWcs",
    "getImageXY0FromMetadata",
    "makeCdMatrix",
    "makeSkyWcs",
    "makeSkyWcsFromFitsHeader",
    "makeTanSipWcs",
]

import math
import re
import warnings
from collections.abc import Mapping

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from .. import geom
from ..exceptions import FitsError, InvalidParameterError
from .metadata import PropertyList

_SIP_KEY = re.compile(r"^(A|B|AP|BP)_(\d+)_(\d+)$")
_SIP_ORDER_KEY = re.compile(r"^(A|B|AP|BP)_ORDER$")
# Keys that describe the primary celestial WCS; stripped by makeSkyWcs(strip=True)
_WCS_KEYS = {
    "WCSAXES",
    "CRPIX1",
    "CRPIX2",
    "CRVAL1",
    "CRVAL2",
    "CTYPE1",
    "CTYPE2",
    "CUNIT1",
    "CUNIT2",
    "CD1_1",
    "CD1_2",
    "CD2_1",
    "CD2_2",
    "PC1_1",
    "PC1_2",
    "PC2_1",
    "PC2_2",
    "CDELT1",
    "CDELT2",
    "CROTA1",
    "CROTA2",
    "RADESYS",
    "RADECSYS",
    "EQUINOX",
    "EPOCH",
    "LONPOLE",
    "LATPOLE",
}
_XY0_KEYS = ("CRVAL1A", "CRVAL2A", "CRPIX1A", "CRPIX2A", "CTYPE1A", "CTYPE2A", "CUNIT1A", "CUNIT2A")


def _toMapping(metadata) -> dict:
    if isinstance(metadata, PropertyList):
        return metadata.toDict()
    if isinstance(metadata, fits.Header):
        return {key: metadata[key] for key in metadata if key not in ("COMMENT", "HISTORY", "")}
    if isinstance(metadata, Mapping):
        return dict(metadata)
    if hasattr(metadata, "toDict"):
        return dict(metadata.toDict())
    raise TypeError(f"Cannot read WCS metadata from {type(metadata).__name__}")


def getImageXY0FromMetadata(metadata, strip: bool = False) -> geom.Point2I:
    """Return ``xy0`` recorded by afw as the ``A`` WCS (``CRVAL1A/2A``),
    or ``(0, 0)`` if absent; optionally remove those keys."""
    values = _toMapping(metadata)
    if "CRVAL1A" not in values or "CRVAL2A" not in values:
        return geom.Point2I(0, 0)
    xy0 = geom.Point2I(round(float(values["CRVAL1A"])), round(float(values["CRVAL2A"])))
    if strip:
        for key in _XY0_KEYS:
            _removeKey(metadata, key)
    return xy0


def _removeKey(metadata, key):
    if isinstance(metadata, PropertyList):
        metadata.remove(key)
    elif isinstance(metadata, fits.Header):
        metadata.remove(key, ignore_missing=True, remove_all=True)
    elif isinstance(metadata, dict):
        metadata.pop(key, None)


def _cleanHeader(values: dict) -> fits.Header:
    """Build a canonical celestial header (CD form, ICRS) in afw pixel
    convention from raw FITS keys in local (file) pixels."""
    if "CRPIX1" not in values or "CRPIX2" not in values:
        raise FitsError("No CRPIX1/CRPIX2; cannot read metadata as a SkyWcs")
    ctype1 = str(values.get("CTYPE1", "")).strip()
    ctype2 = str(values.get("CTYPE2", "")).strip()
    if not ctype1.startswith("RA-") or not ctype2.startswith("DEC-"):
        raise FitsError(f"CTYPE1/2 = {ctype1!r}/{ctype2!r} is not an RA/Dec celestial WCS")
    header = fits.Header()
    header["WCSAXES"] = 2
    for key in ("CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2"):
        header[key] = float(values[key])
    header["CTYPE1"] = ctype1
    header["CTYPE2"] = ctype2
    for key in ("CUNIT1", "CUNIT2"):
        if key in values and str(values[key]).strip().lower() not in ("deg", ""):
            raise FitsError(f"{key} = {values[key]!r} is not supported (only degrees)")
    for key in ("LONPOLE", "LATPOLE"):
        if key in values:
            header[key] = float(values[key])
    for key, value in values.items():
        if _SIP_KEY.match(key) or _SIP_ORDER_KEY.match(key):
            header[key] = value
    for key, value in values.items():
        if re.match(r"^PV\d+_\d+$", key):
            header[key] = float(value)
    # CD matrix, from CD, PC/CDELT or CDELT/CROTA2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        raw = fits.Header()
        for key, value in values.items():
            if key in _WCS_KEYS and key not in ("RADESYS", "RADECSYS", "EQUINOX", "EPOCH"):
                raw[key] = value
        cd = _cdFromWcs(WCS(raw))
    header["CD1_1"], header["CD1_2"] = float(cd[0, 0]), float(cd[0, 1])
    header["CD2_1"], header["CD2_2"] = float(cd[1, 0]), float(cd[1, 1])
    header["RADESYS"] = "ICRS"
    return _convertToIcrs(header, values)


def _cdFromWcs(wcs: WCS) -> np.ndarray:
    if wcs.wcs.has_cd():
        return np.array(wcs.wcs.cd, dtype=float)
    return np.array(wcs.wcs.get_pc(), dtype=float) * np.asarray(wcs.wcs.cdelt, dtype=float)[:, None]


def _frameOf(values: dict) -> tuple[str, float | None]:
    radesys = values.get("RADESYS", values.get("RADECSYS"))
    equinox = values.get("EQUINOX", values.get("EPOCH"))
    equinox = None if equinox is None else float(equinox)
    if radesys is None:
        # FITS defaults (Calabretta & Greisen 2002)
        radesys = "ICRS" if equinox is None else ("FK5" if equinox >= 1984.0 else "FK4")
    return str(radesys).strip().upper(), equinox


def _julianEpoch(values: dict) -> float:
    """Epoch of observation as AST reads it (MJD-OBS, DATE-OBS), else J2000."""
    if "MJD-OBS" in values:
        return 2000.0 + (float(values["MJD-OBS"]) - 51544.5) / 365.25
    if "DATE-OBS" in values:
        try:
            from astropy.time import Time

            return float(Time(str(values["DATE-OBS"]).strip().rstrip("Z"), scale="utc").jyear)
        except ValueError:
            pass
    return 2000.0


def _unitVector(raDeg: float, decDeg: float) -> np.ndarray:
    ra, dec = math.radians(raDeg), math.radians(decDeg)
    return np.array([math.cos(dec) * math.cos(ra), math.cos(dec) * math.sin(ra), math.sin(dec)])


def _localBasis(raDeg: float, decDeg: float) -> tuple[np.ndarray, np.ndarray]:
    ra, dec = math.radians(raDeg), math.radians(decDeg)
    east = np.array([-math.sin(ra), math.cos(ra), 0.0])
    north = np.array([-math.sin(dec) * math.cos(ra), -math.sin(dec) * math.sin(ra), math.cos(dec)])
    return east, north


def _fk5ToIcrsMatrix(epoch: float) -> np.ndarray:
    """3x3 rotation taking FK5 J2000 unit vectors to ICRS (Hipparcos) ones,
    for a source of zero Hipparcos proper motion at Julian ``epoch``."""
    import erfa

    mjd = 51544.5 + (epoch - 2000.0) * 365.25
    basisRa = np.array([0.0, 0.5 * math.pi, 0.0])
    basisDec = np.array([0.0, 0.0, 0.5 * math.pi])
    ra, dec = erfa.fk5hz(basisRa, basisDec, 2400000.5, mjd)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])


def _convertToIcrs(header: fits.Header, values: dict) -> fits.Header:
    frame, equinox = _frameOf(values)
    if frame == "ICRS":
        return header
    if frame != "FK5" or (equinox is not None and equinox != 2000.0):
        raise FitsError(f"RADESYS={frame!r}, EQUINOX={equinox!r}: only ICRS and FK5 J2000 are supported")
    if float(header.get("LONPOLE", 180.0)) != 180.0:
        raise FitsError("FK5 WCS with non-default LONPOLE is not supported")
    rotation = _fk5ToIcrsMatrix(_julianEpoch(values))
    ra, dec = header["CRVAL1"], header["CRVAL2"]
    newVec = rotation @ _unitVector(ra, dec)
    newRa = math.degrees(math.atan2(newVec[1], newVec[0])) % 360.0
    newDec = math.degrees(math.asin(max(-1.0, min(1.0, newVec[2]))))
    east, north = _localBasis(ra, dec)
    newEast, newNorth = _localBasis(newRa, newDec)
    rotEast, rotNorth = rotation @ east, rotation @ north
    # intermediate world coordinates are (east, north) offsets at CRVAL
    turn = np.array([[rotEast @ newEast, rotNorth @ newEast], [rotEast @ newNorth, rotNorth @ newNorth]])
    cd = np.array([[header["CD1_1"], header["CD1_2"]], [header["CD2_1"], header["CD2_2"]]])
    newCd = turn @ cd
    header["CRVAL1"], header["CRVAL2"] = newRa, newDec
    header["CD1_1"], header["CD1_2"] = float(newCd[0, 0]), float(newCd[0, 1])
    header["CD2_1"], header["CD2_2"] = float(newCd[1, 0]), float(newCd[1, 1])
    return header


class SkyWcs:
    """Mapping between afw pixel positions and ICRS sky positions.

    Parameters
    ----------
    metadata : `PropertyList`, `astropy.io.fits.Header` or mapping
        FITS WCS keywords (an image HDU header is fine; an ``A`` WCS giving
        ``xy0`` is honoured, as in afw).
    strip : `bool`, optional
        Remove the keywords used from ``metadata`` (if it is mutable).
    """

    def __init__(self, metadata, strip: bool = False):
        values = _toMapping(metadata)
        xy0 = getImageXY0FromMetadata(values)
        header = _cleanHeader(values)
        # FITS pixels are relative to the local array; afw's to the parent
        header["CRPIX1"] += xy0.getX()
        header["CRPIX2"] += xy0.getY()
        self._setHeader(header)
        if strip:
            for key in list(values):
                if key in _WCS_KEYS or _SIP_KEY.match(key) or _SIP_ORDER_KEY.match(key) or key in _XY0_KEYS:
                    _removeKey(metadata, key)

    @classmethod
    def _fromHeader(cls, header: fits.Header) -> SkyWcs:
        self = cls.__new__(cls)
        self._setHeader(header)
        return self

    def _setHeader(self, header: fits.Header) -> None:
        self._header = header
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            self._wcs = WCS(header)
        if self._wcs.cpdis1 is not None or self._wcs.det2im1 is not None:
            raise FitsError("Lookup-table distortions are not supported by the model SkyWcs")
        self._hasDistortion = self._wcs.sip is not None or any(key.startswith("PV") for key in header)

    # -- point conversions
    def pixelToSky(self, *args):
        """Sky position(s) of pixel position(s).

        Accepts a `Point2D`, ``(x, y)`` floats, or a list of points (then
        returns a list of `SpherePoint`).
        """
        if len(args) == 2:
            ra, dec = self.pixelToSkyArray(np.array([float(args[0])]), np.array([float(args[1])]))
            return geom.SpherePoint(geom.Angle(ra[0]), geom.Angle(dec[0]))
        (arg,) = args
        if isinstance(arg, (geom.Point2D, geom.Point2I)):
            ra, dec = self.pixelToSkyArray(np.array([float(arg[0])]), np.array([float(arg[1])]))
            return geom.SpherePoint(geom.Angle(ra[0]), geom.Angle(dec[0]))
        points = list(arg)
        if not points:
            return []
        ra, dec = self.pixelToSkyArray(
            np.array([float(p[0]) for p in points]), np.array([float(p[1]) for p in points])
        )
        return [
            geom.SpherePoint(geom.Angle(r), geom.Angle(d))
            for r, d in zip(ra.tolist(), dec.tolist(), strict=True)
        ]

    def skyToPixel(self, arg):
        """Pixel position(s) of sky position(s): a `SpherePoint` gives a
        `Point2D`, a list of them a list of `Point2D`."""
        if isinstance(arg, geom.SpherePoint):
            x, y = self.skyToPixelArray(
                np.array([arg.getRa().asRadians()]), np.array([arg.getDec().asRadians()])
            )
            return geom.Point2D(x[0], y[0])
        points = list(arg)
        if not points:
            return []
        x, y = self.skyToPixelArray(
            np.array([p.getRa().asRadians() for p in points]),
            np.array([p.getDec().asRadians() for p in points]),
        )
        return [geom.Point2D(px, py) for px, py in zip(x.tolist(), y.tolist(), strict=True)]

    def pixelToSkyArray(self, x, y, degrees: bool = False):
        """Vectorised `pixelToSky` (model-only API).

        Parameters
        ----------
        x, y : array-like
            afw pixel coordinates.
        degrees : `bool`, optional
            Return degrees instead of radians.

        Returns
        -------
        ra, dec : `numpy.ndarray`
            ICRS coordinates (radians unless ``degrees``); RA in
            ``[0, 2 pi)``.
        """
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        ra, dec = self._wcs.all_pix2world(x, y, 0)
        ra = np.mod(ra, 360.0)
        if degrees:
            return ra, dec
        return np.deg2rad(ra), np.deg2rad(dec)

    def skyToPixelArray(self, ra, dec, degrees: bool = False):
        """Vectorised `skyToPixel` (model-only API).

        Parameters
        ----------
        ra, dec : array-like
            ICRS coordinates, in radians unless ``degrees``.

        Returns
        -------
        x, y : `numpy.ndarray`
            afw pixel coordinates.
        """
        ra = np.asarray(ra, dtype=float)
        dec = np.asarray(dec, dtype=float)
        if not degrees:
            ra, dec = np.rad2deg(ra), np.rad2deg(dec)
        if self._wcs.sip is None:
            return self._wcs.wcs_world2pix(ra, dec, 0)
        return self._wcs.all_world2pix(ra, dec, 0, tolerance=1e-12, maxiter=100, quiet=True)

    # -- properties of the mapping
    def getPixelOrigin(self) -> geom.Point2D:
        """The reference pixel (0-based afw convention): FITS CRPIX - 1."""
        return geom.Point2D(self._header["CRPIX1"] - 1.0, self._header["CRPIX2"] - 1.0)

    def getSkyOrigin(self) -> geom.SpherePoint:
        """The sky position of the reference pixel (CRVAL, ICRS)."""
        return geom.SpherePoint(self._header["CRVAL1"] * geom.degrees, self._header["CRVAL2"] * geom.degrees)

    def _linearCd(self) -> np.ndarray:
        header = self._header
        return np.array([[header["CD1_1"], header["CD1_2"]], [header["CD2_1"], header["CD2_2"]]])

    def getCdMatrix(self, point=None) -> np.ndarray:
        """Jacobian (degrees per pixel) of pixel -> intermediate world
        coordinates at ``point`` (default: the pixel origin), as afw."""
        if point is None:
            point = self.getPixelOrigin()
        if not self._hasDistortion:
            return self._linearCd()
        px, py = float(point[0]), float(point[1])
        step = 0.5
        pix = np.array([[px + step, py], [px - step, py], [px, py + step], [px, py - step]])
        iwc = self._pixelToIwc(pix)
        dx = (iwc[0] - iwc[1]) / (2 * step)
        dy = (iwc[2] - iwc[3]) / (2 * step)
        return np.column_stack([dx, dy])

    def _pixelToIwc(self, pix: np.ndarray) -> np.ndarray:
        foc = self._wcs.sip_pix2foc(pix, 0) if self._wcs.sip is not None else pix
        return self._wcs.wcs.p2s(foc, 0)["imgcrd"]

    def getPixelScale(self, point=None) -> geom.Angle:
        """Square root of the sky area of a pixel at ``point`` (default:
        the pixel origin), computed as afw does from the sky positions of
        the pixel and its +x and +y neighbours."""
        if point is None:
            point = self.getPixelOrigin()
        px, py = float(point[0]), float(point[1])
        ra, dec = self.pixelToSkyArray(np.array([px, px + 1.0, px]), np.array([py, py, py + 1.0]))
        vec = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=1)
        area2 = float(np.sum(np.cross(vec[1] - vec[0], vec[2] - vec[0]) ** 2))
        return geom.Angle(area2**0.25)

    @property
    def isFlipped(self) -> bool:
        """True if the CD matrix has a positive determinant (sky seen
        un-mirrored: east to the right of north), as afw defines it."""
        det = float(np.linalg.det(self.getCdMatrix()))
        if det == 0.0:
            raise InvalidParameterError("CD matrix is singular")
        return det > 0.0

    @property
    def isFits(self) -> bool:
        return True

    def getFitsMetadata(self, precise: bool = False) -> PropertyList:
        """FITS WCS keywords of this WCS (``CRPIX`` = pixel origin + 1)."""
        result = PropertyList()
        for key in self._header:
            result.set(key, self._header[key])
        return result

    def copyAtShiftedPixelOrigin(self, shift) -> SkyWcs:
        """Return a WCS whose pixel frame is shifted by ``shift``: the sky
        position of pixel ``p + shift`` of the result is that of ``p``."""
        header = self._header.copy()
        header["CRPIX1"] += float(shift[0])
        header["CRPIX2"] += float(shift[1])
        return SkyWcs._fromHeader(header)

    def getTanWcs(self, pixel) -> SkyWcs:
        """Local TAN approximation at ``pixel`` (CD = local Jacobian)."""
        sky = self.pixelToSky(pixel)
        return makeSkyWcs(geom.Point2D(pixel), sky, self.getCdMatrix(pixel))

    def getAstropyWcs(self) -> WCS:
        """The underlying `astropy.wcs.WCS`, 0-based afw pixels with
        ``origin=0`` (model-only API)."""
        return self._wcs

    def __eq__(self, other):
        if not isinstance(other, SkyWcs):
            return NotImplemented
        return dict(self._header) == dict(other._header)

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None

    def __reduce__(self):
        return (_rebuildWcs, (self._header.tostring(),))

    def __repr__(self):
        origin, sky = self.getPixelOrigin(), self.getSkyOrigin()
        return (
            f"SkyWcs(pixelOrigin=({origin.x:.3f}, {origin.y:.3f}), skyOrigin=({sky.getRa().asDegrees():.6f}, "
            f"{sky.getDec().asDegrees():.6f}) deg, ctype={self._header['CTYPE1']!r})"
        )


def _rebuildWcs(text):
    return SkyWcs._fromHeader(fits.Header.fromstring(text))


def makeCdMatrix(
    scale: geom.Angle, orientation: geom.Angle = 0 * geom.degrees, flipX: bool = False
) -> np.ndarray:
    """CD matrix (degrees) for a pixel ``scale``, rotated by
    ``orientation`` (north through east), as afw's ``makeCdMatrix``: by
    default (``flipX=False``) east is to the left, the usual convention;
    ``flipX=True`` puts east to the right."""
    orient = orientation.asRadians()
    scaleDeg = scale.asDegrees()
    xSign = 1.0 if flipX else -1.0
    return np.array(
        [
            [xSign * math.cos(orient) * scaleDeg, math.sin(orient) * scaleDeg],
            [-xSign * math.sin(orient) * scaleDeg, math.cos(orient) * scaleDeg],
        ]
    )


def _linearHeader(crpix, crval, cdMatrix, projection: str) -> fits.Header:
    cd = np.asarray(cdMatrix, dtype=float)
    if cd.shape != (2, 2):
        raise InvalidParameterError(f"cdMatrix must be 2x2, not {cd.shape}")
    header = fits.Header()
    header["WCSAXES"] = 2
    header["CRPIX1"] = float(crpix[0]) + 1.0
    header["CRPIX2"] = float(crpix[1]) + 1.0
    header["CRVAL1"] = crval.getRa().asDegrees()
    header["CRVAL2"] = crval.getDec().asDegrees()
    header["CTYPE1"] = "RA---" + projection
    header["CTYPE2"] = "DEC--" + projection
    header["CD1_1"], header["CD1_2"] = float(cd[0, 0]), float(cd[0, 1])
    header["CD2_1"], header["CD2_2"] = float(cd[1, 0]), float(cd[1, 1])
    header["RADESYS"] = "ICRS"
    return header


def makeSkyWcs(*args, **kwargs) -> SkyWcs:
    """Make a `SkyWcs`, as afw's overloads.

    ``makeSkyWcs(crpix: Point2D, crval: SpherePoint, cdMatrix, projection="TAN")``
    with ``crpix`` 0-based afw pixels and ``cdMatrix`` a 2x2 array in
    degrees, or ``makeSkyWcs(metadata, strip=False)`` from FITS keywords.
    """
    if len(args) == 1 and not isinstance(args[0], (geom.Point2D, geom.Point2I)):
        return SkyWcs(args[0], strip=kwargs.get("strip", False))
    if len(args) == 2 and isinstance(args[1], bool):
        return SkyWcs(args[0], strip=args[1])
    names = ("crpix", "crval", "cdMatrix", "projection")
    values = dict(zip(names, args, strict=False))  # trailing arguments may be omitted
    values.update(kwargs)
    projection = str(values.get("projection", "TAN"))
    if len(projection) != 3:
        raise InvalidParameterError(f"projection must be a 3-letter FITS code, not {projection!r}")
    return SkyWcs._fromHeader(_linearHeader(values["crpix"], values["crval"], values["cdMatrix"], projection))


def makeSkyWcsFromFitsHeader(header, strip: bool = False) -> SkyWcs:
    """Make a `SkyWcs` from a FITS header (alias of ``makeSkyWcs(metadata)``)."""
    return SkyWcs(header, strip=strip)


def makeTanSipWcs(crpix, crval, cdMatrix, sipA, sipB, sipAp=None, sipBp=None) -> SkyWcs:
    """TAN-SIP WCS from SIP coefficient matrices (``sipA[p, q]`` multiplies
    ``u**p * v**q``), as afw's ``makeTanSipWcs``."""
    header = _linearHeader(crpix, crval, cdMatrix, "TAN-SIP")
    for name, matrix in (("A", sipA), ("B", sipB), ("AP", sipAp), ("BP", sipBp)):
        if matrix is None:
            continue
        matrix = np.asarray(matrix, dtype=float)
        order = matrix.shape[0] - 1
        header[f"{name}_ORDER"] = order
        for p in range(order + 1):
            for q in range(order + 1 - p):
                if matrix[p, q] != 0.0:
                    header[f"{name}_{p}_{q}"] = float(matrix[p, q])
    return SkyWcs._fromHeader(header)
