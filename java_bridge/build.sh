#!/usr/bin/env bash
# Builds the SAMBridge Java bridge offline, from Debian packages only, and runs
# the Java unit tests of every module.
#
#   apt-get install -y libgrpc-java protobuf-compiler-grpc-java-plugin \
#       libprotobuf-java protobuf-compiler libnetty-java libperfmark-java \
#       libguava-java libgeronimo-annotation-1.3-spec-java libij-java junit4 \
#       libgoogle-gson-java libasm-java groovy xvfb xauth
#   java_bridge/build.sh            # build + unit tests
#   java_bridge/build.sh --no-test  # build only
#
# Modules (each MODULE/src/main/java, MODULE/src/test/java):
#   client-core  generated gRPC stubs (org.sambridge.v1) + client API (org.sambridge.client);
#                plain Java: no ImageJ, AWT or Swing (check_core_purity.sh; compiled without ij.jar)
#   imagej       ImageJ/Fiji plugin (org.sambridge.ij) + ImageJ conversions (org.sambridge.ij.convert)
#   qupath       QuPath helpers (org.sambridge.qupath: regions, connection settings, progress,
#                label image -> GeoJSON) + the sam_*.groovy scripts; needs client-core only
#   test-runner  TestMain + TestDiscovery (finds *Test classes in a test jar; not shipped)
#   shade        Relocate (build tool on ASM, not shipped): merges the plugin, the client and the
#                runtime jars into SAMBridge_-fiji.jar with io.grpc, io.netty, io.perfmark,
#                com.google.protobuf, com.google.common, com.google.thirdparty moved under
#                org.sambridge.shaded (references, class-name strings, META-INF/services), then
#                checks that nothing of those packages is left unrelocated (the build fails if so)
#   live/        tests against a running server (test_live.sh; not shipped, not unit tests)
#
# Outputs (java_bridge/build/, gitignored):
#   sambridge-client.jar  client-core
#   SAMBridge_.jar        imagej (+ plugins.config); needs sambridge-client.jar + lib/ beside it
#   SAMBridge_-fiji.jar   the self-contained, relocated Fiji plugin (-> fiji/plugins/SAMBridge_-VERSION.jar)
#   sambridge-qupath.jar  qupath
#   lib/                  runtime dependency jars, copied from /usr/share/java, + sambridge-client.jar
#   tests/                MODULE-tests.jar (unit tests), test-runner.jar, sambridge-live.jar (not for users)
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
# ImageJ: the plugin is compiled against Debian's ij.jar (1.53) and runs in
# Fiji (1.54). package_fiji.sh lays out build/fiji/plugins/SAMBridge_-VERSION.jar
# (the relocated jar: nothing goes into Fiji's jars/, so nothing clashes with the
# gRPC 1.68 / protobuf-java 4.28 / guava 33 that Fiji may ship) and build/update-site/.
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
# Build tool only: ASM (libasm-java) for shade/ (Relocate), which moves our gRPC, netty, protobuf,
# guava and perfmark under org.sambridge.shaded in the Fiji plugin jar (SAMBridge_-fiji.jar).
ASM_JARS=(asm asm-commons)
SHADED_PREFIX=org/sambridge/shaded/
SHADED_PACKAGES=io/grpc/,io/netty/,io/perfmark/,com/google/protobuf/,com/google/common/,com/google/thirdparty/
IJ_JAR="$J/ij.jar"
TEST_JARS=("$J/junit4.jar" "$J/hamcrest-core.jar" "$J/gson.jar")  # gson: JSON parsing in tests only

need() { command -v "$1" >/dev/null || { echo "missing $1 (apt-get install $2)" >&2; exit 2; }; }
need protoc protobuf-compiler
need javac openjdk-17-jdk-headless
GRPC_PLUGIN="$(command -v grpc_java_plugin || echo /usr/bin/grpc_java_plugin)"
[[ -x "$GRPC_PLUGIN" ]] || { echo "missing grpc_java_plugin (apt-get install protobuf-compiler-grpc-java-plugin)" >&2; exit 2; }
for jar in "${RUNTIME_JARS[@]}" "${COMPILE_ONLY_JARS[@]}" "${ASM_JARS[@]}"; do
  [[ -f "$J/$jar.jar" ]] || { echo "missing $J/$jar.jar (see the apt-get line at the top)" >&2; exit 2; }
done
[[ -f "$IJ_JAR" ]] || { echo "missing $IJ_JAR (apt-get install libij-java)" >&2; exit 2; }

join() { local IFS=:; echo "$*"; }
DEPS=(); for jar in "${RUNTIME_JARS[@]}"; do DEPS+=("$J/$jar.jar"); done
DEPS_CP="$(join "${DEPS[@]}")"
JUNIT_CP="$(join "${TEST_JARS[@]}")"
CLIENT="$BUILD/sambridge-client.jar"
PLUGIN="$BUILD/SAMBridge_.jar"
QUPATH="$BUILD/sambridge-qupath.jar"
RUNNER="$BUILD/tests/test-runner.jar"
JAVAC=(javac --release 8 -encoding UTF-8 -Xlint:-options -nowarn)

# compile_jar JAR CLASSPATH SOURCE_DIR... : compiles every .java under the dirs into JAR.
compile_jar() {
  local jar="$1" cp="$2"; shift 2
  local classes="$BUILD/classes/$(basename "$jar" .jar)"
  mkdir -p "$classes"
  find "$@" -name '*.java' > "$classes.sources"
  "${JAVAC[@]}" -d "$classes" -cp "$cp" @"$classes.sources"
  jar cf "$jar" -C "$classes" .
}

echo "== client-core purity (no ImageJ, AWT or Swing)"
"$HERE/check_core_purity.sh"

rm -rf "$BUILD"
mkdir -p "$BUILD"/{gen,classes,lib,tests,tools}

echo "== protoc (java + grpc-java) from protos/sambridge/v1"
protoc -I "$REPO/protos" --java_out="$BUILD/gen" \
  --plugin=protoc-gen-grpc-java="$GRPC_PLUGIN" --grpc-java_out="$BUILD/gen" \
  "$REPO"/protos/sambridge/v1/*.proto

echo "== client-core -> sambridge-client.jar (compiled without ij.jar)"
compile_jar "$CLIENT" "$DEPS_CP:$J/geronimo-annotation-1.3-spec.jar" "$BUILD/gen" "$HERE/client-core/src/main/java"

echo "== imagej -> SAMBridge_.jar"
mkdir -p "$BUILD/classes/SAMBridge_"
cp "$HERE/imagej/src/main/resources/plugins.config" "$BUILD/classes/SAMBridge_/"
compile_jar "$PLUGIN" "$DEPS_CP:$CLIENT:$IJ_JAR" "$HERE/imagej/src/main/java"

echo "== qupath -> sambridge-qupath.jar"
compile_jar "$QUPATH" "$DEPS_CP:$CLIENT" "$HERE/qupath/src/main/java"

echo "== relocate -> SAMBridge_-fiji.jar (plugin + client + ${SHADED_PACKAGES//,/ } under $SHADED_PREFIX)"
ASM=(); for jar in "${ASM_JARS[@]}"; do ASM+=("$J/$jar.jar"); done
ASM_CP="$(join "${ASM[@]}")"
RELOCATE=(java -Drelocate.version="$(cat "$HERE/VERSION")" -cp "$ASM_CP:$BUILD/tools/relocate.jar" org.sambridge.shade.Relocate)
compile_jar "$BUILD/tools/relocate.jar" "$ASM_CP" "$HERE/shade/src/main/java"
"${RELOCATE[@]}" relocate "$BUILD/SAMBridge_-fiji.jar" "$SHADED_PREFIX" "$SHADED_PACKAGES" "$PLUGIN" "$CLIENT" "${DEPS[@]}"
"${RELOCATE[@]}" check "$BUILD/SAMBridge_-fiji.jar" "$SHADED_PREFIX" "$SHADED_PACKAGES"

echo "== lib/ (runtime dependencies for Fiji's jars/ folder or QuPath's extensions folder)"
for jar in "${DEPS[@]}"; do cp "$(readlink -f "$jar")" "$BUILD/lib/"; done
cp "$CLIENT" "$BUILD/lib/"

echo "== tests (test-runner, MODULE-tests.jar, live)"
compile_jar "$RUNNER" "$JUNIT_CP" "$HERE/test-runner/src/main/java"
CORE_TEST_CP="$DEPS_CP:$CLIENT:$JUNIT_CP:$RUNNER"
QUPATH_TEST_CP="$CORE_TEST_CP:$QUPATH"
IJ_TEST_CP="$CORE_TEST_CP:$IJ_JAR:$PLUGIN:$BUILD/tests/client-core-tests.jar"
compile_jar "$BUILD/tests/test-runner-tests.jar" "$JUNIT_CP:$RUNNER" "$HERE/test-runner/src/test/java"
compile_jar "$BUILD/tests/client-core-tests.jar" "$CORE_TEST_CP" "$HERE/client-core/src/test/java"
compile_jar "$BUILD/tests/qupath-tests.jar" "$QUPATH_TEST_CP" "$HERE/qupath/src/test/java"
compile_jar "$BUILD/tests/imagej-tests.jar" "$IJ_TEST_CP" "$HERE/imagej/src/test/java"
compile_jar "$BUILD/tests/sambridge-live.jar" "$IJ_TEST_CP:$QUPATH" "$HERE/live/src/main/java"
# Everything on one classpath, for test_live.sh and by hand:
#   java -cp "$(cat java_bridge/build/classpath.txt)" org.sambridge.test.TestMain   # all unit tests, one JVM
echo "$BUILD/tests/sambridge-live.jar:$(join "$BUILD"/tests/*-tests.jar):$RUNNER:$PLUGIN:$QUPATH:$(join "$BUILD"/lib/*.jar):$IJ_JAR:$JUNIT_CP" \
  > "$BUILD/classpath.txt"

ls -l "$BUILD"/*.jar "$BUILD"/tests/*.jar
echo "lib: $(ls "$BUILD/lib" | wc -l) jars"

echo "== fiji/ (Fiji.app tree: plugins/SAMBridge_-VERSION.jar) and update-site/ (the updater's layout)"
"$HERE/package_fiji.sh" "$BUILD"

# run_module_tests MODULE CLASSPATH : runs the test classes discovered in MODULE-tests.jar, on
# the module's own classpath (client-core and qupath without ij.jar); adds to the totals.
PASSED=0; FAILED=0
run_module_tests() {
  local module="$1" cp="$2" log="$BUILD/tests/$1.log" rc=0
  echo "== unit tests: $module"
  java -Djava.awt.headless=true -cp "$cp:$BUILD/tests/$module-tests.jar" org.sambridge.test.TestMain \
    "$BUILD/tests/$module-tests.jar" > "$log" 2>&1 || rc=$?
  cat "$log"
  local counts; counts="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)"
  [[ -n "$counts" ]] || { echo "$module: no test summary (exit code $rc)"; FAILED=$((FAILED + 1)); return; }
  PASSED=$((PASSED + ${counts%% passed*})); FAILED=$((FAILED + $(echo "$counts" | awk '{print $3}')))
  if ((rc != 0)) && [[ "$counts" == *" 0 failed" ]]; then FAILED=$((FAILED + 1)); fi  # died after the summary
}

if [[ $RUN_TESTS == 1 ]]; then
  run_module_tests test-runner "$JUNIT_CP:$RUNNER"
  run_module_tests client-core "$CORE_TEST_CP"
  run_module_tests qupath "$QUPATH_TEST_CP"
  run_module_tests imagej "$IJ_TEST_CP"
  echo "== all modules: $PASSED passed, $FAILED failed"
  if command -v groovy >/dev/null; then
    echo "== QuPath geometry via Debian groovy, on a QuPath user's jars (lib/ + sambridge-qupath.jar, no ij.jar)"
    JAVA_HOME="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}" \
      groovy -cp "$(join "$BUILD"/lib/*.jar):$QUPATH" "$HERE/qupath/test_geometry.groovy"
    echo "== QuPath scripts on Debian's groovy (parse, no hard-coded server, helpers run)"
    JAVA_HOME="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}" \
      groovy -cp "$(join "$BUILD"/lib/*.jar):$QUPATH" "$HERE/qupath/test_scripts.groovy" "$HERE/qupath"
  fi
  ((FAILED == 0))
fi
