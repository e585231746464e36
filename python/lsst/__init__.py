# Namespace package shared with the other LSST distributions (pkgutil style,
# the same as lsst-utils, lsst-pipe-base, ... ship), so that ``lsst.ap.alerts``
# coexists with pip-installed ``lsst.*`` packages and with an eups stack.
import pkgutil

__path__ = pkgutil.extend_path(__path__, __name__)
