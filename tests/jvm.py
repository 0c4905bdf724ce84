"""The JVM options of the Spark drivers (and a test cluster's executors) the tests start.

Tests run short: a few small queries of fresh code each, so the options for short local runs
(``jobs.settings.QUICK_LOCAL_JAVA_OPTIONS``). The suite's Spark-heavy third (tests/integrate,
quality, share with two workers) took 293.8 / 307.2 s with them against 336.5 / 341.9 s with
the JVM's defaults, paired. ``TEST_JAVA_OPTIONS`` replaces them (empty: the JVM's defaults), to
measure that again.
"""

from __future__ import annotations

import os

from jobs.settings import QUICK_LOCAL_JAVA_OPTIONS

TEST_JAVA_OPTIONS = os.environ.get("TEST_JAVA_OPTIONS", QUICK_LOCAL_JAVA_OPTIONS)
