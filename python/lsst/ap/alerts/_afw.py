"""The one place that decides between the LSST stack and the package's own
afw-compatible image model.

Everything else in the package imports ``geom``, ``afwImage``, ``afwGeom``
and the two exception types from here and calls the afw API on them, so the
task has a single code path.
"""

__all__ = ["HAVE_AFW", "geom", "afwImage", "afwGeom", "GaussianPsf", "InvalidParameterError", "InvalidPsfError"]

try:
    import lsst.afw.geom as afwGeom
    import lsst.afw.image as afwImage
    import lsst.geom as geom
    from lsst.afw.detection import GaussianPsf, InvalidPsfError
    from lsst.pex.exceptions import InvalidParameterError

    HAVE_AFW = True
except ImportError:
    from . import geom  # type: ignore[no-redef]
    from . import image as afwImage  # type: ignore[no-redef]
    from .image import GaussianPsf, InvalidParameterError, InvalidPsfError  # type: ignore[assignment]

    # afw keeps SkyWcs/makeSkyWcs in lsst.afw.geom; the model keeps them in
    # its image package, which therefore serves both roles.
    afwGeom = afwImage  # type: ignore[misc]
    HAVE_AFW = False
