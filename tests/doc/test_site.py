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

"""Tests of the Sphinx site in ``doc/`` (``./dev.sh docs``), on its built HTML.

The site is built once per test process with warnings as errors, as
``./dev.sh docs`` builds it, into a temporary directory; where
``AP_ALERTS_DOC_HTML`` names a build already made (``.ci/run`` builds the site
once and sets it), that build is tested instead.  The pages are checked
against the classes themselves, by introspection: every public method of
`PackageAlertsTask` (its own and pipe_base's, as automodapi lists them
upstream) must be on its API page with the parameters and returns its
docstring documents, and every field of the configurations on the
configuration pages with its type, default and doc.  The task page is also
loaded in headless Chromium (``headlessBrowser``).

Without Sphinx and documenteer (the ``docs`` extra) the tests skip, saying so,
unless ``AP_ALERTS_REQUIRE_DOCS`` is set (``.ci/run`` sets it): then they fail.
"""

import importlib.util
import inspect
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import lsst.pex.config as pexConfig
import lsst.utils.tests
import matplotlib.image
import numpy as np
from headlessBrowser import runChromium

from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask
from lsst.ap.alerts.pipelineTask import PackageAlertsPipelineConfig, PackageAlertsPipelineTask

DOC = Path(__file__).resolve().parents[2] / "doc"
# The methods upstream's PackageAlertsTask page on pipelines.lsst.io lists.
UPSTREAM_METHODS = {
    "createCcdDataCutout",
    "createDiaSourceExtent",
    "emptyMetadata",
    "getFullMetadata",
    "getFullName",
    "getName",
    "getTaskDict",
    "makeAlertDict",
    "makeField",
    "makeLocalTransformMatrix",
    "makeSubtask",
    "produceAlerts",
    "run",
    "streamCcdDataToBytes",
    "timer",
}
TASK_PAGE_SECTIONS = (
    "Processing summary",
    "Python API summary",
    "Butler datasets",
    "Retargetable subtasks",
    "Configuration fields",
    "Debugging",
)

_built = {}


def buildSite():
    """The directory of the built HTML site (built on first use in this process).

    Returns
    -------
    html : `pathlib.Path`
        ``$AP_ALERTS_DOC_HTML``, or a temporary build of ``doc/``.
    """
    if "html" in _built:
        return _built["html"]
    given = os.environ.get("AP_ALERTS_DOC_HTML")
    if given:
        html = Path(given)
        if not (html / "index.html").is_file():
            raise RuntimeError(f"AP_ALERTS_DOC_HTML={given} holds no built site (no index.html)")
    else:
        missing = [name for name in ("sphinx", "documenteer") if importlib.util.find_spec(name) is None]
        if missing:
            reason = f"{', '.join(missing)} not installed (pip install -e '.[docs]')"
            if os.environ.get("AP_ALERTS_REQUIRE_DOCS"):
                raise RuntimeError(f"AP_ALERTS_REQUIRE_DOCS is set but {reason}")
            raise unittest.SkipTest(reason)
        _built["tmp"] = tempfile.TemporaryDirectory(prefix="ap-alerts-doc-")
        out = Path(_built["tmp"].name)
        # A copy: automodapi writes its stub pages (py-api/) into the source directory.
        source = shutil.copytree(DOC, out / "doc", ignore=shutil.ignore_patterns("_build", "py-api"))
        command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
        command += ["-d", str(out / "doctrees"), str(source), str(out / "html")]
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the docs build failed:\n{done.stderr[-5000:]}")
        html = out / "html"
    _built["html"] = html
    return html


def tearDownModule():
    if "tmp" in _built:
        _built.pop("tmp").cleanup()
        _built.clear()


def _text(node):
    return " ".join(node.get_text(" ").split())


def _words(text):
    return " ".join(re.findall(r"\w+", text))


def _heading(node):
    """A heading's text without its permalink sign."""
    return _text(node).rstrip("¶ ")


def _documentedParameters(docstring):
    """Names in the numpydoc Parameters section of a docstring."""
    match = re.search(r"^Parameters\n-+\n(.*?)(?:^\S[^\n]*\n-+\n|\Z)", docstring or "", re.M | re.S)
    if not match:
        return []
    names = []
    for line in match.group(1).splitlines():
        if line and not line[0].isspace():
            names += [name.strip().lstrip("*") for name in line.split(" : ")[0].split(",")]
    return names


def _signatureParameters(method):
    """Named parameters of a method (not ``self``, ``*args`` or ``**kwargs``)."""
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    parameters = inspect.signature(method).parameters.values()
    return {p.name for p in parameters if p.name not in ("self", "cls") and p.kind not in variadic}


def _hasSection(docstring, title):
    return re.search(rf"^{title}\n-+$", docstring or "", re.M) is not None


def publicMethods(cls):
    """Public methods of ``cls``, inherited ones included, as automodapi lists them."""
    return {
        name
        for name, value in inspect.getmembers(cls)
        if not name.startswith("_") and inspect.isroutine(value) and not inspect.isclass(value)
    }


class SiteTestCase(lsst.utils.tests.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.html = buildSite()

    def soup(self, relative):
        from bs4 import BeautifulSoup

        path = self.html / relative
        self.assertTrue(path.is_file(), msg=f"{relative} was not built")
        return BeautifulSoup(path.read_text(), "html.parser")


class TaskApiPageTestCase(SiteTestCase):
    """The API pages list every method, each with its documented parameters and returns."""

    def methodEntries(self, page, className):
        entries = {}
        for dl in page.find_all("dl", class_="method"):
            dt = dl.find("dt")
            prefix = f"{className}."
            if dt.get("id", "").startswith(prefix):
                entries[dt["id"][len(prefix) :]] = dl.find("dd")
        return entries

    def summaryNames(self, page, rubric):
        heading = page.find(
            lambda tag: tag.name == "p" and "rubric" in tag.get("class", []) and _text(tag) == rubric
        )
        self.assertIsNotNone(heading, msg=f"no {rubric!r} table")
        table = heading.find_next("table")
        return {_text(row.find("td")).split("(")[0].strip() for row in table.find_all("tr")}

    def assertMethodsDocumented(self, cls, publicName):
        page = self.soup(f"py-api/{publicName}.html")
        entries = self.methodEntries(page, publicName)
        methods = publicMethods(cls)
        self.assertEqual(set(entries), methods)
        self.assertEqual(self.summaryNames(page, "Methods Summary"), methods)
        for name in sorted(methods):
            with self.subTest(method=name):
                docstring = inspect.getdoc(getattr(cls, name))
                fields = {_text(dt).rstrip(": "): dd for dt, dd in self.fieldList(entries[name])}
                self.assertTrue(docstring, msg="no docstring")
                documented = _documentedParameters(docstring)
                self.assertLessEqual(_signatureParameters(getattr(cls, name)), set(documented))
                if documented:
                    shown = [_text(s) for s in fields["Parameters"].find_all("strong")]
                    shown = [part.strip().lstrip("*") for item in shown for part in item.split(",")]
                    self.assertEqual(shown, documented)
                for section in ("Returns", "Yields", "Raises"):
                    self.assertEqual(section in fields, _hasSection(docstring, section), msg=section)

    def fieldList(self, dd):
        fieldList = dd.find("dl", class_="field-list")
        if fieldList is None:
            return []
        return zip(
            fieldList.find_all("dt", recursive=False), fieldList.find_all("dd", recursive=False), strict=True
        )

    def testUpstreamMethodsListed(self):
        """Every method upstream's page lists is on ours (and is a method of the class)."""
        self.assertLessEqual(UPSTREAM_METHODS, publicMethods(PackageAlertsTask))
        page = self.soup("py-api/lsst.ap.alerts.PackageAlertsTask.html")
        self.assertLessEqual(
            UPSTREAM_METHODS, set(self.methodEntries(page, "lsst.ap.alerts.PackageAlertsTask"))
        )

    def testPackageAlertsTaskMethods(self):
        self.assertMethodsDocumented(PackageAlertsTask, "lsst.ap.alerts.PackageAlertsTask")

    def testPipelineTaskMethods(self):
        self.assertMethodsDocumented(
            PackageAlertsPipelineTask, "lsst.ap.alerts.pipelineTask.PackageAlertsPipelineTask"
        )

    def testRunParametersRendered(self):
        """The rendered Parameters of ``run`` carry each parameter's type and description."""
        page = self.soup("py-api/lsst.ap.alerts.PackageAlertsTask.html")
        fields = dict(
            (_text(dt).rstrip(": "), dd)
            for dt, dd in self.fieldList(self.methodEntries(page, "lsst.ap.alerts.PackageAlertsTask")["run"])
        )
        items = {_text(li.find("strong")): _text(li) for li in fields["Parameters"].find_all("li")}
        self.assertIn("pandas.DataFrame", items["diaSourceCat"])
        self.assertIn("Template of the difference", items["template"])
        self.assertIn("lsst.pipe.base.Struct", _text(fields["Returns"]) + _text(fields["Return type"]))


class ConfigPagesTestCase(SiteTestCase):
    """Every configuration field is listed, with its type, default and doc, as the class has it."""

    def assertFieldsListed(self, page, configClass):
        sections = {}
        for section in page.find_all("section"):
            heading = section.find(re.compile("^h[1-6]$"), recursive=False)
            if section.get("id", "").startswith("lsst-configfield-") and heading is not None:
                sections[_heading(heading)] = section
        self.assertEqual(set(sections), set(configClass._fields))
        for name, field in configClass._fields.items():
            with self.subTest(field=name):
                section = sections[name]
                # documenteer writes a ConfigField's "Data type" <dd> inside its <dt>: key on the
                # <dt>'s own text, take the next <dd>.
                items = {dt.find(string=True).strip(): dt.find_next("dd") for dt in section.find_all("dt")}
                # The doc is rendered as reStructuredText: compare its words.
                self.assertIn(_words(field.doc), _words(_text(section)))
                self.assertIn(type(field).__name__, _text(items["Field type"]))
                if isinstance(field, pexConfig.ConfigurableField):
                    target = field.target
                    self.assertEqual(_text(items["Default"]), f"{target.__module__}.{target.__qualname__}")
                elif isinstance(field, pexConfig.ConfigField):
                    dtype = field.dtype
                    self.assertEqual(_text(items["Data type"]), f"{dtype.__module__}.{dtype.__qualname__}")
                else:
                    self.assertIn(field.dtype.__name__, _text(items["Field type"]))
                    self.assertEqual(_text(items["Default"]), repr(field.default))

    def testPackageAlertsConfigPage(self):
        page = self.soup("lsst.ap.alerts/configs/lsst.ap.alerts.PackageAlertsConfig.html")
        self.assertFieldsListed(page, PackageAlertsConfig)

    def testTaskPagesListFields(self):
        for page, config in (
            ("lsst.ap.alerts.PackageAlertsTask", PackageAlertsConfig),
            ("lsst.ap.alerts.pipelineTask.PackageAlertsPipelineTask", PackageAlertsPipelineConfig),
        ):
            with self.subTest(page=page):
                self.assertFieldsListed(self.soup(f"lsst.ap.alerts/tasks/{page}.html"), config)


class TopicPagesTestCase(SiteTestCase):
    """The LSST layout: module topic, task topics with their sections, every guide on the site."""

    def testTaskTopics(self):
        for name in (
            "lsst.ap.alerts.PackageAlertsTask",
            "lsst.ap.alerts.pipelineTask.PackageAlertsPipelineTask",
        ):
            with self.subTest(task=name):
                page = self.soup(f"lsst.ap.alerts/tasks/{name}.html")
                self.assertEqual(_heading(page.find("h1")), name.split(".")[-1])
                headings = [_heading(h) for h in page.find_all("h2")]
                self.assertEqual([h for h in headings if h in TASK_PAGE_SECTIONS], list(TASK_PAGE_SECTIONS))

    def testModuleTopicLinksTasks(self):
        page = self.soup("lsst.ap.alerts/index.html")
        links = {a.get("href", "").split("#")[0] for a in page.find_all("a")}
        for target in (
            "tasks/lsst.ap.alerts.PackageAlertsTask.html",
            "tasks/lsst.ap.alerts.pipelineTask.PackageAlertsPipelineTask.html",
            "configs/lsst.ap.alerts.PackageAlertsConfig.html",
            "../py-api/lsst.ap.alerts.PackageAlertsTask.html",
        ):
            self.assertIn(target, links)
        # The task and configuration lists name each topic once.
        listed = [
            _text(a)
            for a in page.find(id="task-reference").find_all("a")
            if "headerlink" not in a.get("class", [])
        ]
        self.assertCountEqual(
            listed, ["PackageAlertsPipelineTask", "PackageAlertsTask", "PackageAlertsConfig"]
        )

    def testEveryGuideIsOnTheSite(self):
        """Every ``doc/*.md`` page is built and linked from the home page (no orphan)."""
        guides = sorted(path.stem for path in DOC.glob("*.md") if path.name != "README.md")
        self.assertIn("design", guides)
        page = self.soup("index.html")
        links = {a.get("href", "").split("#")[0] for a in page.find_all("a")}
        for guide in guides:
            with self.subTest(guide=guide):
                self.assertTrue((self.html / f"{guide}.html").is_file())
                self.assertIn(f"{guide}.html", links)


class TaskPageInBrowserTestCase(SiteTestCase):
    """The task's API page renders in headless Chromium: title, methods table, styled."""

    def testRenders(self):
        page = self.html / "py-api" / "lsst.ap.alerts.PackageAlertsTask.html"
        with tempfile.TemporaryDirectory(prefix="ap-alerts-doc-browser-") as tmp:
            done = runChromium(tmp, "--dump-dom", page.as_uri())
            self.assertEqual(done.returncode, 0, msg=done.stderr[-2000:])
            shot = Path(tmp) / "page.png"
            shotDone = runChromium(tmp, f"--screenshot={shot}", "--window-size=1200,900", page.as_uri())
            self.assertEqual(shotDone.returncode, 0, msg=shotDone.stderr[-2000:])
            pixels = matplotlib.image.imread(str(shot))[..., :3]
        from bs4 import BeautifulSoup

        dom = BeautifulSoup(done.stdout, "html.parser")
        self.assertEqual(_text(dom.find("title")), "PackageAlertsTask — ap_alerts")
        self.assertEqual(_heading(dom.find("h1")), "PackageAlertsTask")
        rubric = dom.find(lambda tag: tag.name == "p" and _text(tag) == "Methods Summary")
        rows = rubric.find_next("table").find_all("tr")
        names = {_text(row.find("td")).split("(")[0].strip() for row in rows}
        self.assertEqual(names, publicMethods(PackageAlertsTask))
        # Styled, not a bare page: the theme's colours, more than a handful of them.
        self.assertEqual(pixels.shape[:2], (900, 1200))
        colours = np.unique((pixels.reshape(-1, 3) * 255).round().astype(int), axis=0)
        self.assertGreater(len(colours), 20)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
