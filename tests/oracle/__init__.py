"""Independent oracles the tests (and benchmarks) compare the package against.

`upstreamPackager`: upstream's packaging algorithm (lsst.ap.association's
``PackageAlertsTask``) written out with the same libraries; `comparison`:
the decoded content of alerts and cutouts, and how two alert sets differ.
"""
