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

"""Solar-system detections: geometry, photometry, ssSource rows and MPC orbits.

Each solar-system DiaSource gets a circular-ish Keplerian orbit in the
ecliptic plane through the observed direction, around the Sun's true
position at the visit time, so that ranges, range rates, sky rates,
elongation, phase and magnitudes agree; the ``ssSrc`` row carries the
SSSource columns and ``MPCORB_``-prefixed ``mpc_orbits`` columns of that
orbit.
"""

from __future__ import annotations

__all__: list[str] = []

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd

from .apdbTables import apdbFrame
from .skyGeometry import (
    ICRS_TO_GAL,
    eastNorth,
    eclipticToEquatorial,
    equatorialToEcliptic,
    raDec,
    sunGeocentric,
    unitVectors,
)
from .survey import AB_NJY

_AU_KM = 1.495978707e8
_SLOPE_G = 0.15  # H-G phase function slope parameter

# Field order of lsst.v11_1.mpc_orbits.
_MPC_ORBITS_FIELDS = (
    "id",
    "designation",
    "packed_primary_provisional_designation",
    "unpacked_primary_provisional_designation",
    "mpc_orb_jsonb",
    "created_at",
    "updated_at",
    "orbit_type_int",
    "u_param",
    "nopp",
    "arc_length_total",
    "arc_length_sel",
    "nobs_total",
    "nobs_total_sel",
    "a",
    "q",
    "e",
    "i",
    "node",
    "argperi",
    "peri_time",
    "yarkovsky",
    "srp",
    "a1",
    "a2",
    "a3",
    "dt",
    "mean_anomaly",
    "period",
    "mean_motion",
    "a_unc",
    "q_unc",
    "e_unc",
    "i_unc",
    "node_unc",
    "argperi_unc",
    "peri_time_unc",
    "yarkovsky_unc",
    "srp_unc",
    "a1_unc",
    "a2_unc",
    "a3_unc",
    "dt_unc",
    "mean_anomaly_unc",
    "period_unc",
    "mean_motion_unc",
    "epoch_mjd",
    "h",
    "g",
    "not_normalized_rms",
    "normalized_rms",
    "earth_moid",
    "fitting_datetime",
)


def solarSystem(rng, mjd, ra, dec, band):
    """Geometry, photometry and MPC orbits of solar-system detections.

    Circular heliocentric orbits in the ecliptic plane around the Sun's true
    position at ``mjd``: ranges, rates, elongation and phase are mutually
    consistent; H comes from the magnitude through the H-G phase function.

    Returns
    -------
    ssColumns : `dict`
        SSSource columns (without ids/designation).
    mpcColumns : `dict`
        mpc_orbits columns (without ids/designations).
    flux : `numpy.ndarray`
        Difference-image flux (nJy) in ``band``.
    motion : `tuple` [`numpy.ndarray`, `numpy.ndarray`]
        On-sky rate (deg/day) and bearing (deg east of north).
    """
    orbit = _geometry(rng, mjd, ra, dec)
    flux = _photometry(rng, orbit, band)
    ssColumns = _ssSourceColumns(rng, orbit, ra, dec)
    mpcColumns = _mpcOrbitColumns(rng, orbit, mjd)
    return ssColumns, mpcColumns, flux, (orbit.rate, orbit.bearing)


def _prograde(vec):
    """Unit vectors along prograde motion in the ecliptic plane at ``vec``."""
    direction = np.stack([-vec[..., 1], vec[..., 0], np.zeros_like(vec[..., 0])], axis=-1)
    return direction / np.linalg.norm(direction, axis=-1, keepdims=True)


def _geometry(rng, mjd, ra, dec):
    """Positions and velocities of the objects and the Earth; sky rates."""
    n = len(ra)
    o = SimpleNamespace(n=n)
    o.u = unitVectors(ra, dec)
    sun = sunGeocentric(mjd)
    o.neo = rng.random(n) < 0.1
    o.r = np.where(o.neo, rng.uniform(1.1, 1.7, n), rng.uniform(2.1, 3.4, n))
    o.us = o.u @ sun
    o.delta = o.us + np.sqrt(o.us**2 - sun @ sun + o.r**2)
    o.geo = o.delta[:, None] * o.u
    o.helio = o.geo - sun
    # Keplerian velocities on prograde orbits in the ecliptic plane through
    # the object (eccentricity e, true anomaly nu); the Earth's circular.
    o.e = np.where(o.neo, rng.uniform(0.3, 0.65, n), rng.uniform(0.02, 0.25, n))
    o.nu = rng.uniform(0, 2 * np.pi, n)
    o.semiLatus = o.r * (1 + o.e * np.cos(o.nu))
    helioEcl = equatorialToEcliptic(o.helio)
    radial = helioEcl / np.linalg.norm(helioEcl, axis=1, keepdims=True)
    speed = (29.7847 / np.sqrt(o.semiLatus))[:, None]
    o.vHelio = eclipticToEquatorial(
        speed * (o.e * np.sin(o.nu))[:, None] * radial
        + speed * (1 + o.e * np.cos(o.nu))[:, None] * _prograde(radial)
    )
    earthEcl = equatorialToEcliptic(-sun[None, :])
    vEarth = eclipticToEquatorial(29.7847 / np.sqrt(np.linalg.norm(earthEcl)) * _prograde(earthEcl))[0]
    o.vTopo = o.vHelio - vEarth
    east, north = eastNorth(ra, dec)
    toDegPerDay = 86400.0 / _AU_KM * np.degrees(1.0) / o.delta
    o.rateRa = np.sum(o.vTopo * east, axis=1) * toDegPerDay
    o.rateDec = np.sum(o.vTopo * north, axis=1) * toDegPerDay
    o.rate = np.hypot(o.rateRa, o.rateDec)
    o.bearing = np.degrees(np.arctan2(o.rateRa, o.rateDec))
    o.elongation = np.degrees(np.arccos(np.clip(o.us / np.linalg.norm(sun), -1, 1)))
    cosPhase = np.sum(o.helio * o.geo, axis=1) / (o.r * o.delta)
    o.phase = np.degrees(np.arccos(np.clip(cosPhase, -1, 1)))
    return o


def _photometry(rng, o, band):
    """V magnitudes, H from the H-G phase function, and fluxes in ``band``."""
    tanHalf = np.tan(np.radians(o.phase) / 2)
    phi = (1 - _SLOPE_G) * np.exp(-3.33 * tanHalf**0.63) + _SLOPE_G * np.exp(-1.87 * tanHalf**1.22)
    o.vmag = rng.uniform(19.0, 23.3, o.n)
    o.hMag = o.vmag - 5 * np.log10(o.r * o.delta) + 2.5 * np.log10(phi)
    colour = np.array([1.4, 0.35, -0.2, -0.35, -0.4, -0.45])  # band - V, S/C-type mix
    return 10 ** ((AB_NJY - (o.vmag + colour[band] + rng.normal(0, 0.1, o.n))) / 2.5)


def _ssSourceColumns(rng, o, ra, dec):
    """SSSource columns: frames, geometry, ephemeris offsets, state vectors."""
    n = o.n
    offRa = rng.normal(0, 0.25, n)
    offDec = rng.normal(0, 0.25, n)
    b = np.radians(o.bearing)
    eclLon, eclLat = raDec(equatorialToEcliptic(o.u))
    galLon, galLat = raDec(o.u @ ICRS_TO_GAL.T)
    helio, geo, vHelio, vTopo = o.helio, o.geo, o.vHelio, o.vTopo
    return {
        "eclLambda": eclLon,
        "eclBeta": eclLat,
        "galLon": galLon,
        "galLat": galLat,
        "elongation": o.elongation,
        "phaseAngle": o.phase,
        "topoRange": o.delta,
        "topoRangeRate": np.sum(vTopo * o.u, axis=1),
        "helioRange": o.r,
        "helioRangeRate": np.sum(vHelio * helio, axis=1) / o.r,
        "ephRa": (ra - offRa / 3600.0 / np.cos(np.radians(dec))) % 360.0,
        "ephDec": dec - offDec / 3600.0,
        "ephVmag": o.vmag,
        "ephRate": o.rate,
        "ephRateRa": o.rateRa,
        "ephRateDec": o.rateDec,
        "ephOffset": np.hypot(offRa, offDec),
        "ephOffsetRa": offRa,
        "ephOffsetDec": offDec,
        "ephOffsetAlongTrack": offRa * np.sin(b) + offDec * np.cos(b),
        "ephOffsetCrossTrack": offRa * np.cos(b) - offDec * np.sin(b),
        "helio_x": helio[:, 0],
        "helio_y": helio[:, 1],
        "helio_z": helio[:, 2],
        "helio_vx": vHelio[:, 0],
        "helio_vy": vHelio[:, 1],
        "helio_vz": vHelio[:, 2],
        "helio_vtot": np.linalg.norm(vHelio, axis=1),
        "topo_x": geo[:, 0],
        "topo_y": geo[:, 1],
        "topo_z": geo[:, 2],
        "topo_vx": vTopo[:, 0],
        "topo_vy": vTopo[:, 1],
        "topo_vz": vTopo[:, 2],
        "topo_vtot": np.linalg.norm(vTopo, axis=1),
        "diaDistanceRank": np.ones(n, np.int64),
    }


def _asDatetime(mjd):
    """numpy datetime64[us] of MJDs."""
    return np.datetime64("1858-11-17T00:00:00", "us") + np.rint(np.asarray(mjd) * 86400e6).astype(
        "timedelta64[us]"
    )


def _mpcOrbitColumns(rng, o, mjd):
    """mpc_orbits columns of the orbits the velocities belong to, and their fit."""
    n, e = o.n, o.e
    a = o.semiLatus / (1 - e**2)
    eccAnomaly = 2 * np.arctan(np.sqrt((1 - e) / (1 + e)) * np.tan(o.nu / 2))
    meanAnomaly = np.degrees(eccAnomaly - e * np.sin(eccAnomaly)) % 360.0
    period = 365.25636 * a**1.5
    meanMotion = 360.0 / period
    epoch = np.full(n, np.floor(mjd / 100.0) * 100.0)  # MPC's standard epochs
    nObs = rng.integers(15, 3000, n)
    arc = rng.uniform(3, 9000, n)
    relUnc = 10 ** rng.uniform(-8, -4, n)
    fitted = mjd - rng.uniform(0.5, 60, n)
    created = mjd - rng.uniform(100, 4000, n)
    return {
        "id": rng.choice(np.arange(1, 2_000_000), n, replace=False),
        "created_at": _asDatetime(created),
        "updated_at": _asDatetime(fitted),
        "orbit_type_int": np.where(o.neo, rng.integers(0, 4, n), 10),
        "u_param": np.minimum(9, np.maximum(0, np.rint(9 - np.log10(arc) * 2.3))).astype(np.int64),
        "nopp": np.maximum(1, np.rint(arc / 365)).astype(np.int64),
        "arc_length_total": arc,
        "arc_length_sel": arc * rng.uniform(0.9, 1.0, n),
        "nobs_total": nObs,
        "nobs_total_sel": nObs - rng.integers(0, 5, n) * (nObs > 20),
        "a": a,
        "q": a * (1 - e),
        "e": e,
        "i": np.abs(rng.normal(0, 9, n)),
        "node": rng.uniform(0, 360, n),
        "argperi": rng.uniform(0, 360, n),
        "peri_time": epoch - meanAnomaly / meanMotion,
        "mean_anomaly": meanAnomaly,
        "period": period,
        "mean_motion": meanMotion,
        "a_unc": a * relUnc,
        "q_unc": a * (1 - e) * relUnc,
        "e_unc": relUnc,
        "i_unc": relUnc * 10,
        "node_unc": relUnc * 50,
        "argperi_unc": relUnc * 80,
        "peri_time_unc": relUnc * period,
        "mean_anomaly_unc": relUnc * 80,
        "period_unc": relUnc * period * 1.5,
        "mean_motion_unc": relUnc * meanMotion * 1.5,
        "epoch_mjd": epoch,
        "h": o.hMag,
        "g": np.full(n, _SLOPE_G),
        "not_normalized_rms": rng.uniform(0.15, 0.7, n),
        "normalized_rms": rng.uniform(0.4, 1.1, n),
        "earth_moid": np.abs(a * (1 - e) - 1.0) * rng.uniform(0.5, 1.0, n),
        "fitting_datetime": _asDatetime(fitted),
    }


def randomDesignations(rng, count):
    """Distinct unpacked provisional designations, some in the extended form."""
    halfMonths = "ABCDEFGHJKLMNOPQRSTUVWXY"
    orders = "ABCDEFGHJKLMNOPQRSTUVWXYZ"
    seen, out = set(), []
    while len(out) < count:
        year = int(rng.integers(2000, 2026))
        extended = year >= 2015 and rng.random() < 0.15
        cycle = int(rng.integers(620, 720)) if extended else int(rng.integers(0, 300))
        text = f"{year} {halfMonths[rng.integers(24)]}{orders[rng.integers(25)]}{cycle if cycle else ''}"
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def ssSrcFrame(rng, diaSourceIds, ssObjectIds, designations, packed, ssColumns, mpcColumns, fractionMissing):
    """ssSrc: SSSource columns (APDB dtypes) plus MPCORB_ mpc_orbits columns."""
    n = len(diaSourceIds)
    data = dict(
        ssColumns,
        diaSourceId=diaSourceIds,
        ssObjectId=ssObjectIds,
        designation=np.array(designations, dtype=object),
    )
    frame = apdbFrame("SSSource", data, n)
    missing = rng.random(n) < fractionMissing
    mpc = dict(mpcColumns)
    mpc["designation"] = np.array(designations, dtype=object)
    if fractionMissing < 1:
        mpc["packed_primary_provisional_designation"] = np.where(
            missing, None, np.array(packed, dtype=object)
        )
        mpc["unpacked_primary_provisional_designation"] = np.where(
            missing, None, np.array(designations, dtype=object)
        )
    mpc["mpc_orb_jsonb"] = np.array(
        [
            _orbitJson(d, *elements)
            for d, *elements in zip(
                designations,
                mpc["epoch_mjd"],
                mpc["q"],
                mpc["e"],
                mpc["i"],
                mpc["node"],
                mpc["argperi"],
                mpc["peri_time"],
                strict=True,
            )
        ],
        dtype=object,
    )
    integerColumns = ("orbit_type_int", "u_param", "nopp", "nobs_total", "nobs_total_sel")
    extra = {}
    for name in _MPC_ORBITS_FIELDS:
        if name not in mpc:
            extra["MPCORB_" + name] = np.full(n, np.nan)  # non-gravitational terms: none fitted
        elif name == "id":
            extra["MPCORB_id"] = np.asarray(mpc[name], np.int32)
        elif name in integerColumns:
            extra["MPCORB_" + name] = pd.array(np.asarray(mpc[name], np.int64), dtype="Int32")
        else:
            extra["MPCORB_" + name] = mpc[name]
    return pd.concat([frame, pd.DataFrame(extra)], axis=1)


def _orbitJson(designation, epoch, q, e, i, node, argperi, periTime):
    """The ``mpc_orb_jsonb`` document of one orbit (cometary elements)."""
    return json.dumps(
        {
            "designation_data": {"unpacked_primary_provisional_designation": designation},
            "epoch_data": {"timeform": "MJD", "timesystem": "TT", "epoch": float(epoch)},
            "COM": {
                "coefficient_names": ["q", "e", "i", "node", "argperi", "peri_time"],
                "coefficient_values": [
                    float(q),
                    float(e),
                    float(i),
                    float(node),
                    float(argperi),
                    float(periTime),
                ],
            },
        }
    )
