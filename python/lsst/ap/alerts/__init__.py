"""Package DIA catalogs and images of one visit/detector into Avro alerts.

A drop-in replacement for ``lsst.ap.association.PackageAlertsTask``.
"""

from .packageAlerts import PackageAlertsConfig, PackageAlertsTask
from .version import __version__

__all__ = ["PackageAlertsConfig", "PackageAlertsTask", "__version__"]
