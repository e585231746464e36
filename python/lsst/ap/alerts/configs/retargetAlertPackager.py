# Config override for lsst.ap.association.DiaPipelineTask (label
# associateApdb/diaPipe in ap_pipe's pipelines): package alerts with
# lsst.ap.alerts instead of lsst.ap.association. For example
#   RETARGET=$(python -c "from importlib.resources import files; print(files('lsst.ap.alerts') / 'configs/retargetAlertPackager.py')")
#   pipetask run ... -C associateApdb:$RETARGET
# (with eups: $AP_ALERTS_DIR/config/retargetAlertPackager.py, a link to this file)
# The alertPackager fields keep their names, so other overrides still apply.
from lsst.ap.alerts import PackageAlertsTask

config.alertPackager.retarget(PackageAlertsTask)  # noqa: F821 (config is given by pex_config)
