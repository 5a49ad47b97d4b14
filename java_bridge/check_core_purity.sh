#!/usr/bin/env bash
# Fails (exit 1) if client-core mentions ImageJ (ij.*), AWT (java.awt) or Swing (javax.swing):
# QuPath and other plain-Java users must not need ImageJ or a GUI toolkit on their classpath.
# Imports and fully qualified names both count; "org.sambridge.ij..." in a comment does not.
#
#   java_bridge/check_core_purity.sh [SOURCE_DIR...]   # default: java_bridge/client-core/src
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
(($#)) || set -- "$HERE/client-core/src"
PATTERN='(^|[^.[:alnum:]_])ij\.[[:alpha:]]|java\.awt|javax\.swing'
if hits="$(grep -rnE --include='*.java' "$PATTERN" "$@")"; then
  echo "client-core must not use ImageJ, AWT or Swing (move the code to imagej/ or qupath/):" >&2
  echo "$hits" >&2
  exit 1
fi
echo "client-core: no ImageJ, AWT or Swing"
