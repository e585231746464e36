"""Package DIA catalogs and images of one visit/detector into Avro alerts.

A drop-in replacement for ``lsst.ap.association.PackageAlertsTask``.
"""

from .version import __version__

__all__ = ["PackageAlertsConfig", "PackageAlertsTask", "__version__"]


def __getattr__(name):
    # Imported on first use: the task pulls in lsst.pipe.base and the
    # butler (seconds), which the ``ap-alerts`` file tools never need.
    if name in ("PackageAlertsConfig", "PackageAlertsTask"):
        from . import packageAlerts

        return getattr(packageAlerts, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
