// SAMBridge live test: drives the plugin commands like a user's recorded macro.
// Argument: "address|token|image.tif|out_dir|x1,y1,x2,y2,...|bx0,by0,bx1,by1" (token unused:
// Connect reads it from $SAMBRIDGE_TOKEN)
// Writes into out_dir: points_rois.zip, points_labels.tif, box_rois.zip,
// box_labels.tif, ais_rois.zip, ais_labels.tif, done.txt (last, as a marker).
args = split(getArgument(), "|");
address = args[0]; token = args[1]; image = args[2]; out = args[3];
p = split(args[4], ","); b = split(args[5], ",");
setBatchMode(true);
roiManager("reset");  // creates the batch-mode ROI Manager the plugin fills
open(image);
src = getTitle();
// the token comes from $SAMBRIDGE_TOKEN (test_live.sh sets it), never from the macro text
run("Connect", "address=" + address + " timeout=60 long_timeout=1800 model=");
run("Embed current image", "tile=0 halo=0");

// 1) one object per point (multi-point selection)
xs = newArray(p.length / 2); ys = newArray(p.length / 2);
for (i = 0; i < xs.length; i++) { xs[i] = parseInt(p[2 * i]); ys[i] = parseInt(p[2 * i + 1]); }
selectImage(src);
makeSelection("point", xs, ys);
run("Segment from ROI", "mode=[one object per prompt]");
saveResults("points");

// 2) one object from a rectangle
selectImage(src);
makeRectangle(parseInt(b[0]), parseInt(b[1]), parseInt(b[2]) - parseInt(b[0]), parseInt(b[3]) - parseInt(b[1]));
run("Segment from ROI", "mode=[one object] multimask");
saveResults("box");

// 3) automatic instance segmentation
selectImage(src);
run("Select None");
run("Segment all (AIS)", "method=auto slices=current");
saveResults("ais");

File.saveString("ok", out + "/done.txt");

function saveResults(name) {
    n = roiManager("count");
    if (n > 0) roiManager("save", out + "/" + name + "_rois.zip");
    if (getTitle() != src) exit("the source image is no longer active after " + name);
    // the one label image of the source (closing it makes the next call start a new one;
    // object names continue across calls)
    labels = src;
    if (lastIndexOf(src, ".") > 0) labels = substring(src, 0, lastIndexOf(src, "."));
    labels = labels + "-SAM-labels";
    if (isOpen(labels)) {
        selectImage(labels);
        saveAs("Tiff", out + "/" + name + "_labels.tif");
        close();
        selectImage(src);
    }
    print(name + ": " + n + " ROIs");
    roiManager("reset");
}
