#!/usr/bin/env bash
# CI step for the Java bridge: install the Debian packages it is built from, then
# build the jars of the three modules (client-core, imagej, qupath) and run every module's
# unit tests (build.sh checks that client-core has no ImageJ/AWT/Swing, discovers the *Test
# classes and prints "N passed, N failed" per module and for all). The live tests against a
# server (LiveClientTest, ImageJ macro run and LiveGuiTest under Xvfb) run from pytest:
# tests/test_java_bridge.py calls test_live.sh.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PACKAGES=(openjdk-17-jdk-headless libgrpc-java protobuf-compiler-grpc-java-plugin libprotobuf-java
  protobuf-compiler libnetty-java libperfmark-java libguava-java libgeronimo-annotation-1.3-spec-java
  libij-java junit4 libgoogle-gson-java libasm-java groovy xvfb xauth)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
"$HERE/build.sh"
