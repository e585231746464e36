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

"""Butler storage classes and formatters for alerts and model exposures.

Storage classes (defined in ``configs/apAlertsStorageClasses.yaml``):

``ApAlertPackets``
    The alerts of one visit/detector, Python type
    `lsst.ap.alerts.avro.payloads.AlertPayloads`, stored as an Avro object
    container file (``.avro``) that embeds the schema, so ``fastavro.reader``
    and ``lsst.alert.packet`` read it without this package.
``ApAlertsExposureF``
    The package's own afw-compatible `lsst.ap.alerts.afwModel.image.ExposureF`, stored
    as FITS in afw's multi-extension layout.  Used for the image inputs only
    when ``lsst.afw`` is absent; with the LSST stack the inputs are afw's
    ``ExposureF`` (see `EXPOSURE_STORAGE_CLASS`).

The formatters (``configs/apAlertsFormatters.yaml``) also map daf_butler's
own ``ExposureF`` storage class to `ExposureFitsFormatter` (afw's
``readFits``/``writeFits``), so ``pipetask`` and the demo run with real afw
without ``lsst.obs.base``, whose formatter daf_butler names by default.

A butler only knows these storage classes and their formatters (in
``configs/apAlertsFormatters.yaml``) if its configuration includes them.
Either

- create the repository with them, so every process that opens it (a
  ``pipetask`` subprocess included) sees them without any environment::

      butler create REPO --seed-config "$(python -c \\
          'from lsst.ap.alerts.butlerFormatters import SEED_CONFIG; print(SEED_CONFIG)')"

  or `makeRepo` from Python; or
- for a repository that already exists, put `CONFIG_DIR` on
  ``DAF_BUTLER_CONFIG_PATH`` in every process that uses it::

      export DAF_BUTLER_CONFIG_PATH="$(python -c \\
          'from lsst.ap.alerts.butlerFormatters import CONFIG_DIR; print(CONFIG_DIR)')"

Reading a dataset back only needs the storage class (the formatter is
recorded with the file); writing one needs both.
"""

from __future__ import annotations

__all__ = [
    "ALERTS_STORAGE_CLASS",
    "CONFIG_DIR",
    "EXPOSURE_STORAGE_CLASS",
    "SEED_CONFIG",
    "AlertPacketsFormatter",
    "ExposureFitsFormatter",
    "makeRepo",
    "readAlertContainer",
    "repoSeedConfig",
    "writeAlertContainer",
]

import io
import json
import os
from typing import Any, BinaryIO

from lsst.daf.butler import Butler, Config, FormatterV2
from lsst.resources import ResourcePath

from ._afw import HAVE_AFW
from .avro.container import ContainerFileReader, ContainerFileWriter
from .avro.payloads import AlertPayloads
from .schemaRegistry import AlertSchema, SchemaRegistry, UnknownSchemaError, alertVersionFromName

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
"""Directory to put on ``DAF_BUTLER_CONFIG_PATH`` (holds ``storageClasses.yaml``
and ``datastores/fileDatastore.yaml``)."""

SEED_CONFIG = os.path.join(CONFIG_DIR, "apAlertsRepoSeed.yaml")
"""Seed configuration for ``butler create --seed-config``."""

ALERTS_STORAGE_CLASS = "ApAlertPackets"
"""Storage class of the alerts dataset."""

# The one place that picks the exposure storage class: afw's own when the
# stack is there (formatter: ours, afw's readFits/writeFits), the model's
# otherwise.
EXPOSURE_STORAGE_CLASS = "ExposureF" if HAVE_AFW else "ApAlertsExposureF"
"""Storage class of the difference, science and template exposure inputs."""


def repoSeedConfig() -> Config:
    """Return the butler configuration that adds this package's storage
    classes and formatters (the contents of `SEED_CONFIG`).
    """
    return Config(SEED_CONFIG)


def makeRepo(root: str, **kwargs: Any) -> Config:
    """Create a butler repository that knows this package's storage classes.

    Parameters
    ----------
    root : `str`
        Repository location (a new SQLite repository by default).
    **kwargs
        Passed on to `lsst.daf.butler.Butler.makeRepo`.

    Returns
    -------
    config : `lsst.daf.butler.Config`
        The configuration written to ``root/butler.yaml``.
    """
    return Butler.makeRepo(root, config=repoSeedConfig(), **kwargs)


def _schemaOf(writerSchema: dict, schemaJson: str) -> AlertSchema:
    """The `AlertSchema` of a container file, from its writer schema."""
    name = writerSchema.get("name", "") if isinstance(writerSchema, dict) else ""
    version = alertVersionFromName(name)
    if version is None:
        raise ValueError(f"Not an LSST alert container file: its schema is named {name!r}")
    try:
        # A known version: the registry's copy (with its path) is the same schema.
        return SchemaRegistry.default().byVersion(version)
    except UnknownSchemaError:
        return AlertSchema(version, "", json.loads(schemaJson))


def readAlertContainer(source: str | os.PathLike | BinaryIO) -> AlertPayloads:
    """Read an Avro container file of alerts into `AlertPayloads`.

    Works on the files `AlertPacketsFormatter` writes and on the
    ``{visit}_{detector}.avro`` files `PackageAlertsTask` writes.  Each record
    is decoded once, to find where it ends and to read its ids; the payloads
    keep the exact bytes of the file.

    Parameters
    ----------
    source : `str`, path-like or binary file object
        The file.

    Returns
    -------
    alerts : `lsst.ap.alerts.avro.payloads.AlertPayloads`

    Raises
    ------
    ValueError
        If the file's schema is not an LSST alert schema.
    """
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as stream:
            return readAlertContainer(stream)
    reader = ContainerFileReader(source)
    schema = _schemaOf(reader.parsedSchema, reader.schemaJson)
    diaSourceIds, payloads, diaObjectIds = [], [], []
    for item in reader.records(schema.parsed):
        payloads.append(item.data)
        diaSourceIds.append(item.record["diaSourceId"])
        diaObjectIds.append(item.record["diaSource"].get("diaObjectId") or 0)
    return AlertPayloads(schema, diaSourceIds, payloads, diaObjectIds)


def writeAlertContainer(alerts: AlertPayloads) -> bytes:
    """Return the Avro container file of ``alerts`` (uncompressed: the
    cutouts are FITS bytes that deflate barely shrinks).
    """
    stream = io.BytesIO()
    with ContainerFileWriter(stream, alerts.schema.definition) as writer:
        writer.extend(alerts.payloads)
    return stream.getvalue()


class AlertPacketsFormatter(FormatterV2):
    """Read and write `AlertPayloads` as an Avro object container file."""

    default_extension = ".avro"
    unsupported_parameters = None
    can_read_from_local_file = True

    def read_from_local_file(self, path: str, component: str | None = None, expected_size: int = -1) -> Any:
        return readAlertContainer(path)

    def to_bytes(self, in_memory_dataset: Any) -> bytes:
        if not isinstance(in_memory_dataset, AlertPayloads):
            raise TypeError(f"Expected AlertPayloads, got {type(in_memory_dataset).__name__}")
        return writeAlertContainer(in_memory_dataset)


class ExposureFitsFormatter(FormatterV2):
    """Read and write an exposure as FITS in afw's layout with its own
    ``readFits``/``writeFits``.

    Serves the model's `lsst.ap.alerts.afwModel.image.ExposureF` (storage class
    ``ApAlertsExposureF``) and afw's ``lsst.afw.image.ExposureF`` (storage
    class ``ExposureF``, whose default formatter lives in ``lsst.obs.base``,
    which is not installable without the full stack).  Components are
    read from the whole exposure with its getters (no assembler needed);
    read parameters (``bbox``, ...) are not supported.
    """

    default_extension = ".fits"
    unsupported_parameters = None
    can_read_from_local_file = True

    def read_from_local_file(self, path: str, component: str | None = None, expected_size: int = -1) -> Any:
        exposure = self.file_descriptor.storageClass.pytype.readFits(path)
        if component is None:
            return exposure
        return _exposureComponent(exposure, component)

    def write_local_file(self, in_memory_dataset: Any, uri: ResourcePath) -> None:
        in_memory_dataset.writeFits(uri.ospath)


# Exposure components by name: the getter of the exposure or of its info.
_EXPOSURE_COMPONENTS = {
    "image": lambda e: e.getMaskedImage().getImage(),
    "mask": lambda e: e.getMaskedImage().getMask(),
    "variance": lambda e: e.getMaskedImage().getVariance(),
    "wcs": lambda e: e.getWcs(),
    "psf": lambda e: e.getPsf(),
    "photoCalib": lambda e: e.getPhotoCalib(),
    "visitInfo": lambda e: e.getInfo().getVisitInfo(),
    "filter": lambda e: e.getFilter(),
    "detector": lambda e: e.getDetector(),
    "metadata": lambda e: e.getMetadata(),
    "id": lambda e: e.getInfo().id,
    "bbox": lambda e: e.getBBox(),
    "dimensions": lambda e: e.getDimensions(),
    "xy0": lambda e: e.getXY0(),
}


def _exposureComponent(exposure: Any, component: str) -> Any:
    """One component of ``exposure`` (a butler component name)."""
    getter = _EXPOSURE_COMPONENTS.get(component)
    if getter is None:
        raise ValueError(
            f"Exposure component {component!r} is not supported by ExposureFitsFormatter "
            f"(supported: {sorted(_EXPOSURE_COMPONENTS)})"
        )
    return getter(exposure)
