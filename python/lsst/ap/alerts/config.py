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

"""Configuration of `PackageAlertsTask`.

The fields upstream ``lsst.ap.association.PackageAlertsConfig`` has keep their
names, types and defaults; the fields added here default to upstream's
behaviour.
"""

__all__ = ["PackageAlertsConfig"]

import os

import lsst.alert.packet as alertPack
import lsst.pex.config as pexConfig

from .cutouts.fits import MASK_LAYOUTS


class PackageAlertsConfig(pexConfig.Config):
    """Configuration for `~lsst.ap.alerts.PackageAlertsTask`."""

    schemaFile = pexConfig.Field(
        dtype=str,
        doc="URI of the Avro alert schema (root ``lsst.vM_m.alert.avsc`` file). "
        "A bare version ('11.1') or Confluent schema ID ('1101') is also accepted.",
        default=str(alertPack.get_uri_to_latest_schema()),
    )
    minCutoutSize = pexConfig.RangeField(
        dtype=int,
        min=0,
        max=1000,
        default=30,
        doc="Smallest side, in pixels, of the square cutouts; smaller source footprints are padded to it.",
    )
    maxCutoutSize = pexConfig.RangeField(
        dtype=int,
        min=0,
        max=1000,
        default=102,
        doc="Largest side, in pixels, of the square cutouts. 102 = the longest trail of a "
        "10 deg/day mover in 30 s at 0.2 arcsec/pixel (62.5 px) plus a 40 px PSF.",
    )
    alertWriteLocation = pexConfig.Field(
        dtype=str,
        doc="Directory the Avro alert files (and failed-delivery files) are written to.",
        default=os.path.join(os.getcwd(), "alerts"),
    )
    doProduceAlerts = pexConfig.Field(
        dtype=bool,
        doc="Send the alerts to Kafka (needs confluent_kafka and the AP_KAFKA_* environment).",
        default=False,
    )
    doWriteAlerts = pexConfig.Field(
        dtype=bool,
        doc="Write the alerts of each visit/detector to ``{visit}_{detector}.avro``.",
        default=False,
    )
    doWriteFailedAlerts = pexConfig.Field(
        dtype=bool,
        doc="Write every alert that could not be delivered to Kafka to "
        "``{visit}_{detector}_{diaSourceId}.avro`` (Confluent-framed payload).",
        default=False,
    )
    maxTimeout = pexConfig.Field(
        dtype=float,
        doc="Seconds to wait for the Kafka broker to answer the start-up metadata query.",
        default=15.0,
    )
    deliveryTimeout = pexConfig.Field(
        dtype=float,
        doc="Milliseconds the producer may spend delivering one alert (Kafka delivery.timeout.ms).",
        default=1200.0,
    )
    useAveragePsf = pexConfig.Field(
        dtype=bool,
        doc="Attach the PSF at the image's average position to every cutout instead of "
        "evaluating it at each source: less accurate, much faster.",
        default=False,
    )
    # Additions; the defaults reproduce upstream.
    kafkaSecurityProtocol = pexConfig.ChoiceField(
        dtype=str,
        doc="Kafka security.protocol. PLAINTEXT is for local test brokers only.",
        default="SASL_PLAINTEXT",
        allowed={
            "SASL_PLAINTEXT": "SASL authentication without TLS (Rubin's alert stream).",
            "SASL_SSL": "SASL authentication over TLS.",
            "PLAINTEXT": "No authentication, no TLS; the credential variables are not needed.",
            "SSL": "TLS without SASL; the credential variables are not needed.",
        },
    )
    kafkaSaslMechanism = pexConfig.ChoiceField(
        dtype=str,
        doc="Kafka sasl.mechanisms when the security protocol uses SASL.",
        default="SCRAM-SHA-512",
        allowed={
            "SCRAM-SHA-512": "Rubin's alert stream.",
            "SCRAM-SHA-256": "SCRAM with SHA-256.",
            "PLAIN": "Clear-text user/password (only over TLS).",
        },
    )
    doKeyByDiaObjectId = pexConfig.Field(
        dtype=bool,
        doc="Use the diaObjectId (8-byte big-endian) as the Kafka message key so all alerts of one "
        "object land in one partition, in order. Upstream sends no key (False).",
        default=False,
    )
    useNullForNaN = pexConfig.Field(
        dtype=bool,
        doc="Write null instead of NaN in the nullable float/double fields of the alerts (an absent "
        "measurement), as Rubin's sample alerts do, so consumers testing for None find it. False "
        "(upstream) keeps NaN. NaN in a non-nullable field stays NaN either way.",
        default=False,
    )
    kafkaEnableIdempotence = pexConfig.Field(
        dtype=bool,
        doc="Idempotent Kafka producer (enable.idempotence with acks=all): an alert the client retries "
        "(lost acknowledgement, broker restart) is stored once and in order. Turn off only for a broker "
        "without the idempotent producer API or an account without IdempotentWrite permission.",
        default=True,
    )
    schemaRegistryUrl = pexConfig.Field(
        dtype=str,
        doc="Base URL of the Confluent Schema Registry consumers decode with (e.g. "
        "'http://registry:8081'). When set, before the first alert is sent the task fetches "
        "{url}/schemas/ids/{schema ID} and raises if it is absent, differs from the local schema or "
        "cannot be fetched within maxTimeout seconds (nothing is sent; the visit file is still "
        "written). Empty (default): no check.",
        default="",
    )
    cutoutMaskPlanes = pexConfig.ChoiceField(
        dtype=str,
        doc="How each cutout carries afw's mask planes. 'none' (default): no mask HDU, as upstream's "
        "cutouts (CCDData.write drops the mask), so alerts are as large as upstream's. 'compressed': an "
        "AFWMASK HDU, tile-compressed, readable with lsst.ap.alerts.cutouts.ccdData.readCutout; it adds "
        "two FITS blocks (5,760 bytes) per cutout, about 16% to a typical alert.",
        default="none",
        allowed=MASK_LAYOUTS,
    )

    def validate(self):
        super().validate()
        if self.minCutoutSize > self.maxCutoutSize:
            raise pexConfig.FieldValidationError(
                PackageAlertsConfig.minCutoutSize,
                self,
                f"minCutoutSize ({self.minCutoutSize}) must not exceed maxCutoutSize ({self.maxCutoutSize})",
            )
        if self.deliveryTimeout <= 0:
            raise pexConfig.FieldValidationError(
                PackageAlertsConfig.deliveryTimeout, self, "deliveryTimeout must be positive"
            )
        if self.maxTimeout <= 0:
            raise pexConfig.FieldValidationError(
                PackageAlertsConfig.maxTimeout, self, "maxTimeout must be positive"
            )
