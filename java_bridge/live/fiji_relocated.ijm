// SAMBridge live test of the Fiji jar (build/fiji/plugins/SAMBridge_-VERSION.jar, gRPC/netty/
// protobuf/guava relocated) on a hyperstack with 2 slices and 3 frames.
// Argument: "address|zt.tif|out_dir|px,py|qx,qy" (token from $SAMBRIDGE_TOKEN)
//   px,py: a nucleus on slice 2 of frame 1 (Segment from ROI), qx,qy: one on slice 1 of frame 3
//   (Propagate in 3D over z at frame 3); Track runs over t at the displayed slice 2.
// Writes into out_dir: rois.txt ("COMMAND NAME C Z T" per ROI added), labels.tif (the source's
// label image), done.txt (last, as a marker).
var lines = "";  // globals: record() reads and appends
var added = 0;
var src = "";
args = split(getArgument(), "|");
address = args[0]; image = args[1]; out = args[2];
p = split(args[3], ","); q = split(args[4], ",");
setBatchMode(true);
roiManager("reset");
open(image);
src = getTitle();
getDimensions(w, h, channels, slices, frames);
if (slices != 2 || frames != 3) exit("expected 2 slices and 3 frames, got " + slices + " and " + frames);
run("Connect", "address=" + address + " timeout=60 long_timeout=600 model=");

// 1) Segment from ROI on slice 2 of frame 1
Stack.setPosition(1, 2, 1);
makePoint(parseInt(p[0]), parseInt(p[1]));
run("Segment from ROI", "mode=[one object per prompt]");
record("segment");

// 2) Track: over t at the displayed slice (2)
selectImage(src);
run("Select None");
Stack.setPosition(1, 2, 2);
run("Track", "segmentation=auto max_distance=50 time_limit=30");
record("track");

// 3) Propagate in 3D: over z at the displayed frame (3)
selectImage(src);
Stack.setPosition(1, 1, 3);
makePoint(parseInt(q[0]), parseInt(q[1]));
run("Propagate in 3D", "projection=single_point iou_threshold=0.5");
record("propagate");

labels = src;
if (lastIndexOf(src, ".") > 0) labels = substring(src, 0, lastIndexOf(src, "."));
labels = labels + "-SAM-labels";
selectImage(labels);
saveAs("Tiff", out + "/labels.tif");
File.saveString(lines, out + "/rois.txt");
File.saveString("ok", out + "/done.txt");

// Appends the ROIs a command added (name and c, z, t position); the source must still be active.
function record(command) {
    if (getTitle() != src) exit("the source image is no longer active after " + command);
    n = roiManager("count");
    for (i = added; i < n; i++) {
        roiManager("select", i);
        Roi.getPosition(c, z, t);
        lines = lines + command + " " + Roi.getName + " " + c + " " + z + " " + t + "\n";
    }
    added = n;
    run("Select None");
    print(command + ": " + n + " ROIs in the ROI Manager");
}
