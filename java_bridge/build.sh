#!/usr/bin/env bash
# Builds the SAMBridge Java bridge offline, from Debian packages only, and runs
# the Java unit tests.
#
#   apt-get install -y libgrpc-java protobuf-compiler-grpc-java-plugin \
#       libprotobuf-java protobuf-compiler libnetty-java libperfmark-java \
#       libguava-java libgeronimo-annotation-1.3-spec-java libij-java junit4 \
#       groovy xvfb xauth
#   java_bridge/build.sh            # build + unit tests
#   java_bridge/build.sh --no-test  # build only
#
# Outputs (java_bridge/build/, gitignored):
#   sambridge-client.jar  generated gRPC stubs (org.sambridge.v1) + client API (org.sambridge.client)
#   SAMBridge_.jar        ImageJ/Fiji plugin (org.sambridge.ij + plugins.config)
#   lib/                  runtime dependency jars, copied from /usr/share/java
#   sambridge-tests.jar   unit + live tests (not for users)
#
# RUNTIME CLASSPATH (found by trial on Debian bookworm, grpc-java 1.41.3,
# protobuf-java 3.21.12, netty 4.1.48, guava 31.1, perfmark 0.21; Java 17):
#   grpc-api grpc-context grpc-core grpc-netty grpc-protobuf grpc-protobuf-lite
#   grpc-stub protobuf guava perfmark-api  netty-common netty-buffer
#   netty-transport netty-resolver netty-codec netty-handler netty-codec-http
#   netty-codec-http2
# Notes:
#   * Debian's netty-all.jar is an EMPTY aggregator (only a pom): list the
#     individual netty-* jars.
#   * Without grpc-context: NoClassDefFoundError io/grpc/Deadline; without
#     perfmark-api: NoClassDefFoundError io/perfmark/PerfMark; without the netty
#     jars: io/netty/channel/ChannelFactory.
#   * guava 31 in Debian bundles failureaccess; gson is not needed (no service
#     config / xDS); okhttp is not packaged, grpc-netty is the transport.
#   * Compile-only: geronimo-annotation-1.3-spec (javax.annotation.Generated used
#     by the generated stubs; not in Java 11+).
#   * TLS uses the JDK's SSLEngine (ALPN is built into Java 9+; no tcnative).
# ImageJ: the plugin is compiled against Debian's ij.jar (1.52i) and runs in
# Fiji (1.54). Fiji already ships guava/protobuf/netty jars in jars/: when a jar
# of the same artifact exists there, keep the NEWER one (one copy only).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
BUILD="$HERE/build"
J=/usr/share/java
RUN_TESTS=1
[[ "${1:-}" == "--no-test" ]] && RUN_TESTS=0

RUNTIME_JARS=(grpc-api grpc-context grpc-core grpc-netty grpc-protobuf grpc-protobuf-lite grpc-stub
  protobuf guava perfmark-api
  netty-common netty-buffer netty-transport netty-resolver netty-codec netty-handler
  netty-codec-http netty-codec-http2)
COMPILE_ONLY_JARS=(geronimo-annotation-1.3-spec)
IJ_JAR="$J/ij.jar"
TEST_JARS=("$J/junit4.jar" "$J/hamcrest-core.jar" "$J/gson.jar")  # gson: JSON parsing in tests only

need() { command -v "$1" >/dev/null || { echo "missing $1 (apt-get install $2)" >&2; exit 2; }; }
need protoc protobuf-compiler
need javac openjdk-17-jdk-headless
GRPC_PLUGIN="$(command -v grpc_java_plugin || echo /usr/bin/grpc_java_plugin)"
[[ -x "$GRPC_PLUGIN" ]] || { echo "missing grpc_java_plugin (apt-get install protobuf-compiler-grpc-java-plugin)" >&2; exit 2; }
for jar in "${RUNTIME_JARS[@]}" "${COMPILE_ONLY_JARS[@]}"; do
  [[ -f "$J/$jar.jar" ]] || { echo "missing $J/$jar.jar (see the apt-get line at the top)" >&2; exit 2; }
done
[[ -f "$IJ_JAR" ]] || { echo "missing $IJ_JAR (apt-get install libij-java)" >&2; exit 2; }

join() { local IFS=:; echo "$*"; }
DEPS=(); for jar in "${RUNTIME_JARS[@]}"; do DEPS+=("$J/$jar.jar"); done
COMPILE_CP="$(join "${DEPS[@]}" "$J/geronimo-annotation-1.3-spec.jar" "$IJ_JAR")"
JAVAC=(javac --release 8 -encoding UTF-8 -Xlint:-options -nowarn)

rm -rf "$BUILD"
mkdir -p "$BUILD"/{gen,classes/client,classes/plugin,classes/tests,lib}

echo "== protoc (java + grpc-java) from protos/sambridge/v1"
protoc -I "$REPO/protos" --java_out="$BUILD/gen" \
  --plugin=protoc-gen-grpc-java="$GRPC_PLUGIN" --grpc-java_out="$BUILD/gen" \
  "$REPO"/protos/sambridge/v1/*.proto

echo "== javac client"
find "$BUILD/gen" "$HERE/src/client/java" -name '*.java' > "$BUILD/client-sources.txt"
"${JAVAC[@]}" -d "$BUILD/classes/client" -cp "$COMPILE_CP" @"$BUILD/client-sources.txt"
jar cf "$BUILD/sambridge-client.jar" -C "$BUILD/classes/client" .

echo "== javac ImageJ plugin"
"${JAVAC[@]}" -d "$BUILD/classes/plugin" -cp "$COMPILE_CP:$BUILD/sambridge-client.jar" \
  $(find "$HERE/src/plugin/java" -name '*.java')
cp "$HERE/src/plugin/resources/plugins.config" "$BUILD/classes/plugin/"
jar cf "$BUILD/SAMBridge_.jar" -C "$BUILD/classes/plugin" .

echo "== lib/ (runtime dependencies for Fiji's jars/ folder)"
for jar in "${DEPS[@]}"; do cp "$(readlink -f "$jar")" "$BUILD/lib/"; done
cp "$BUILD/sambridge-client.jar" "$BUILD/lib/"

echo "== javac tests"
TEST_CP="$COMPILE_CP:$BUILD/sambridge-client.jar:$BUILD/SAMBridge_.jar:$(join "${TEST_JARS[@]}")"
"${JAVAC[@]}" -d "$BUILD/classes/tests" -cp "$TEST_CP" \
  $(find "$HERE/src/test/java" "$HERE/src/live/java" -name '*.java')
jar cf "$BUILD/sambridge-tests.jar" -C "$BUILD/classes/tests" .
# Classpath for running tests / tools (written for test_live.sh).
echo "$BUILD/sambridge-tests.jar:$BUILD/SAMBridge_.jar:$(join "$BUILD"/lib/*.jar):$IJ_JAR:$(join "${TEST_JARS[@]}")" \
  > "$BUILD/classpath.txt"

ls -l "$BUILD"/*.jar
echo "lib: $(ls "$BUILD/lib" | wc -l) jars"

if [[ $RUN_TESTS == 1 ]]; then
  echo "== unit tests"
  java -Djava.awt.headless=true -cp "$(cat "$BUILD/classpath.txt")" org.sambridge.test.TestMain
  if command -v groovy >/dev/null; then
    echo "== QuPath geometry via Debian groovy"
    JAVA_HOME="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}" \
      groovy -cp "$(cat "$BUILD/classpath.txt")" "$HERE/qupath/test_geometry.groovy"
  fi
fi
