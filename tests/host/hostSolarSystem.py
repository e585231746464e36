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

"""Ephemerides of known solar-system objects for upstream's DiaPipelineTask.

Prompt processing hands DiaPipelineTask a ``preloaded_SsObjects`` table:
the predicted positions and state vectors of the objects expected in the
detector at the visit time, plus their MPC orbits in ``MPCORB_`` columns.
Sorcha or mpSky make it from real orbits; neither runs here, so this module
writes one in Sorcha's layout (the columns SolarSystemAssociationTask reads
from it) for objects placed exactly on chosen DiaSources of the visit, so
that the host's real association pairs them.  Geometry: the observer at the
Earth's heliocentric position (astropy), the object ``RANGE_AU`` away along
the DiaSource's direction; velocities and rates are arbitrary but finite.
"""

__all__ = ["MPC_ORBIT_COLUMNS", "ephemerides"]

import astropy.units as u
import numpy as np
from astropy.coordinates import get_body_barycentric_posvel
from astropy.table import Table
from astropy.time import Time

RANGE_AU = 1.7
# The mpc_orbits fields carried as MPCORB_ columns (all but ``id``, which the
# packagers set themselves), with the value type each has in the table.
MPC_ORBIT_COLUMNS = {
    "designation": str,
    "packed_primary_provisional_designation": str,
    "unpacked_primary_provisional_designation": str,
    "mpc_orb_jsonb": str,
    "created_at": int,
    "updated_at": int,
    "orbit_type_int": int,
    "u_param": int,
    "nopp": int,
    "arc_length_total": float,
    "arc_length_sel": float,
    "nobs_total": int,
    "nobs_total_sel": int,
    "a": float,
    "q": float,
    "e": float,
    "i": float,
    "node": float,
    "argperi": float,
    "peri_time": float,
    "mean_anomaly": float,
    "period": float,
    "mean_motion": float,
    "epoch_mjd": float,
    "h": float,
    "g": float,
    "not_normalized_rms": float,
    "normalized_rms": float,
    "earth_moid": float,
    "fitting_datetime": int,
}
# Distinct provisional designations (unpacked, packed).
DESIGNATIONS = [("2024 AB12", "K24A12B"), ("2019 QC7", "K19Q07C"), ("2021 RT101", "K21RA1T")]


def _unit(ra, dec):
    ra, dec = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def _observer(mjdTai):
    """Heliocentric position (au) and velocity (km/s) of the Earth, equatorial."""
    when = Time(mjdTai, format="mjd", scale="tai")
    earth, earthV = get_body_barycentric_posvel("earth", when)
    sun, sunV = get_body_barycentric_posvel("sun", when)
    position = (earth - sun).xyz.to_value(u.au)
    velocity = (earthV - sunV).xyz.to_value(u.km / u.s)
    return position, velocity


def _mpcOrbits(rng, n, designations, mjdTai):
    columns = {}
    for name, kind in MPC_ORBIT_COLUMNS.items():
        if kind is float:
            columns[name] = rng.uniform(0.1, 3.0, n)
        elif kind is int:
            columns[name] = rng.integers(1, 9, n)
    columns["designation"] = [d for d, _ in designations]
    columns["unpacked_primary_provisional_designation"] = [d for d, _ in designations]
    columns["packed_primary_provisional_designation"] = [p for _, p in designations]
    columns["mpc_orb_jsonb"] = [f'{{"designation": "{d}"}}' for d, _ in designations]
    columns["epoch_mjd"] = np.full(n, np.floor(mjdTai / 100) * 100)
    return {"MPCORB_" + name: values for name, values in columns.items()}


def ephemerides(diaSources, mjdTai, seed=0):
    """Sorcha-layout ephemerides of one object on each row of ``diaSources``.

    Parameters
    ----------
    diaSources : `pandas.DataFrame`
        The DiaSources to place objects on (``ra``, ``dec`` in degrees), at
        most ``len(DESIGNATIONS)``.
    mjdTai : `float`
        The visit's midpoint.
    seed : `int`
        Seed of the orbit values.

    Returns
    -------
    table : `astropy.table.Table`
        What DiaPipelineTask takes as ``solarSystemObjectTable``.
    """
    n = len(diaSources)
    rng = np.random.default_rng(seed)
    designations = DESIGNATIONS[:n]
    direction = _unit(diaSources["ra"].to_numpy(float), diaSources["dec"].to_numpy(float))
    obsPos, obsVel = _observer(mjdTai)
    objPos = obsPos + RANGE_AU * direction
    objVel = obsVel + rng.uniform(-5, 5, (n, 3))
    km = u.au.to(u.km)
    table = Table()
    table["ObjID"] = [d for d, _ in designations]
    table["packed_desig"] = [p for _, p in designations]
    table["FieldID"] = np.zeros(n, int)
    table["fieldMJD_TAI"] = np.full(n, mjdTai)
    table["fieldJD_TDB"] = np.full(n, mjdTai + 2400000.5)
    table["RATrue_deg"] = diaSources["ra"].to_numpy(float) * u.deg
    table["DecTrue_deg"] = diaSources["dec"].to_numpy(float) * u.deg
    table["RARateCosDec_deg_day"] = rng.uniform(-0.3, 0.3, n)
    table["DecRate_deg_day"] = rng.uniform(-0.3, 0.3, n)
    table["RangeRate_LTC_km_s"] = rng.uniform(-10, 10, n)
    table["Range_LTC_km"] = np.full(n, RANGE_AU * km) * u.km
    cosPhase = np.sum(objPos * direction, axis=1) / np.linalg.norm(objPos, axis=1)
    table["phase_deg"] = np.degrees(np.arccos(cosPhase)) * u.deg
    table["trailedSourceMagTrue"] = rng.uniform(19, 23, n)
    for i, axis in enumerate("xyz"):
        table[f"Obj_Sun_{axis}_LTC_km"] = objPos[:, i] * km * u.km
        table[f"Obj_Sun_v{axis}_LTC_km_s"] = objVel[:, i] * u.km / u.s
        table[f"Obs_Sun_{axis}_km"] = np.full(n, obsPos[i] * km) * u.km
        table[f"Obs_Sun_v{axis}_km_s"] = np.full(n, obsVel[i]) * u.km / u.s
    for name, values in _mpcOrbits(rng, n, designations, mjdTai).items():
        table[name] = values
    return table
