#!/usr/bin/env bash
# Checks the two things govlake cannot install for you: Python >= 3.11 and Java >= 17.
# Prints what is missing and how to get it, and exits non-zero; prints nothing when all is well.
set -u
python_bin=${PYTHON:-python3}
missing=0

if ! command -v "$python_bin" >/dev/null 2>&1; then
  echo "govlake: Python 3.11 or newer is required, but '$python_bin' was not found." >&2
  echo "         Install Python 3.11+ (e.g. 'apt-get install python3 python3-venv') or set PYTHON=/path/to/python3.11." >&2
  missing=1
elif ! "$python_bin" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  found=$("$python_bin" -c 'import sys; print(".".join(map(str, sys.version_info[:3])))' 2>/dev/null)
  if [[ -n $found ]]; then
    echo "govlake: Python 3.11 or newer is required, but '$python_bin' is $found." >&2
  else
    echo "govlake: Python 3.11 or newer is required, but '$python_bin' did not run (its version could not be read)." >&2
  fi
  echo "         Set PYTHON=/path/to/python3.11 (or newer) and run make again." >&2
  missing=1
elif ! "$python_bin" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "govlake: '$python_bin' has no venv/ensurepip module; install it (e.g. 'apt-get install python3-venv')." >&2
  missing=1
fi

java_bin=java
[[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]] && java_bin=$JAVA_HOME/bin/java
if ! command -v "$java_bin" >/dev/null 2>&1; then
  echo "govlake: Java 17 or newer is required by Spark, but no 'java' was found on PATH or in JAVA_HOME." >&2
  echo "         Install a JDK 17+ (e.g. 'apt-get install openjdk-17-jre-headless') or set JAVA_HOME." >&2
  missing=1
else
  # `java -version` prints e.g. 'openjdk version "17.0.15"' or 'java version "1.8.0_392"' on stderr.
  version=$("$java_bin" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -1)
  major=${version%%.*}
  [[ $major == 1 ]] && major=$(echo "$version" | cut -d. -f2)
  if [[ -z $major || ! $major =~ ^[0-9]+$ || $major -lt 17 ]]; then
    echo "govlake: Java 17 or newer is required by Spark, but '$java_bin' is version '${version:-unknown}'." >&2
    echo "         Install a JDK 17+ or point JAVA_HOME at one." >&2
    missing=1
  fi
fi
exit $missing
