package org.sambridge.live;

import ij.IJ;
import ij.ImagePlus;
import ij.WindowManager;
import ij.gui.Roi;
import ij.plugin.frame.RoiManager;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import javax.swing.SwingUtilities;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.v1.ModelInfo;

/**
 * The commands beyond the click loop, each run as a macro command in real ImageJ windows and
 * judged by its output: Auto 3D (ROIs on both slices, one name per 3D object), Propagate all
 * objects (objects reach another slice), Track labels with CTC export (mask files + res_track.txt
 * consistent with the masks), Load model (served afterwards), Finetune from the ROI Manager and
 * from a label image (model served, loss Plot with points), Status (Log lists the models),
 * Connect with an unknown model (refused, old connection kept), Disconnect (later calls fail).
 */
final class CapabilityChecks {
    private final LiveGuiTest.Checker checker;
    private final Map<String, Object> details;
    private final String address;
    private final String token;
    private final File out;

    CapabilityChecks(LiveGuiTest.Checker checker, Map<String, Object> details, String address, String token,
            File out) {
        this.checker = checker;
        this.details = details;
        this.address = address;
        this.token = token;
        this.out = out;
    }

    void run(ImagePlus hela, ImagePlus series, int[] box, String checkpoint) throws Exception {
        RoiManager manager = RoiManager.getRoiManager();
        ImagePlus zstack = zStack(series);
        timed("auto3d", () -> auto3d(manager, zstack));
        timed("propagate_all", () -> propagateAll(manager, zstack));
        timed("track_labels", () -> trackLabels(manager, series));
        timed("load_model", () -> loadModel(checkpoint));
        timed("correct_undo", () -> correctAndUndo(manager, hela, box));
        timed("finetune", () -> finetune(manager, hela));
        timed("status", this::status);
        timed("connect_unknown_model", this::unknownModel);
        timed("disconnect", this::disconnect);
    }

    private interface Step {
        void run() throws Exception;
    }

    private void timed(String name, Step step) throws Exception {
        long start = System.nanoTime();
        try {
            step.run();
        } catch (Exception e) {
            checker.check(false, name + ": " + e);
        }
        details.put("seconds_" + name, (System.nanoTime() - start) / 1_000_000_000L);
    }

    /** The first two frames of the series as a 2-slice z stack. */
    private static ImagePlus zStack(ImagePlus series) throws Exception {
        ij.ImageStack stack = new ij.ImageStack(series.getWidth(), series.getHeight());
        for (int t = 1; t <= 2; t++) {
            stack.addSlice(null, series.getStack().getProcessor(t).duplicate());
        }
        ImagePlus z = new ImagePlus("hela_z", stack);
        z.setDimensions(1, 2, 1);
        z.show();
        settle();
        return z;
    }

    private void auto3d(RoiManager manager, ImagePlus zstack) throws Exception {
        WindowManager.setCurrentWindow(zstack.getWindow());
        manager.reset();
        IJ.run("Auto 3D", "method=auto min_overlap=0.3 gap_closing=1 min_z_extent=1");
        settle();
        Map<String, Set<Integer>> slices = slicesByName(manager);
        details.put("auto3d_rois", manager.getCount());
        details.put("auto3d_objects", slices.size());
        checker.check(manager.getCount() > 0, "Auto 3D added no ROIs");
        checker.check(zSlices(slices).equals(new TreeSet<>(java.util.Arrays.asList(1, 2))),
                "Auto 3D ROIs are not on both slices: " + slices);
        checker.check(slices.size() < manager.getCount(), "no Auto 3D object spans both slices: " + slices);
        checker.check(WindowManager.getImage("hela_z-SAM-labels") != null, "Auto 3D made no label image");
    }

    private void propagateAll(RoiManager manager, ImagePlus zstack) throws Exception {
        WindowManager.setCurrentWindow(zstack.getWindow());
        zstack.setSlice(1);
        int before = manager.getCount();
        IJ.run("Propagate all objects", "labels=[hela_z-SAM-labels] projection=single_point iou_threshold=0.5");
        settle();
        List<Roi> added = new ArrayList<>();
        Roi[] all = manager.getRoisAsArray();
        for (int i = before; i < all.length; i++) {
            added.add(all[i]);
        }
        Map<String, Set<Integer>> slices = slicesByName(added);
        details.put("propagate_all_objects", slices.size());
        checker.check(!added.isEmpty(), "Propagate all objects added no ROIs");
        checker.check(zSlices(slices).contains(2), "no propagated object reached slice 2: " + slices);
    }

    private void trackLabels(RoiManager manager, ImagePlus series) throws Exception {
        WindowManager.setCurrentWindow(series.getWindow());
        File ctc = new File(out, "ctc");
        manager.reset();
        IJ.run("Track labels", "labels=[" + series.getShortTitle() + "-SAM-labels] max_distance=50 time_limit=30"
                + " ctc_export=[" + ctc.getPath() + "]");
        settle();
        File tracks = new File(ctc, "res_track.txt");
        List<String> lines = tracks.isFile() ? Files.readAllLines(tracks.toPath(), StandardCharsets.UTF_8)
                : new ArrayList<>();
        details.put("ctc_tracks", lines.size());
        checker.check(!lines.isEmpty(), "Track labels wrote no res_track.txt lines in " + ctc);
        Set<Integer> inMasks = new TreeSet<>();
        for (int t = 0; t < series.getNFrames(); t++) {
            ImagePlus mask = IJ.openImage(new File(ctc, String.format("mask%03d.tif", t)).getPath());
            checker.check(mask != null && mask.getBitDepth() == 16, "CTC mask " + t + " missing or not 16-bit");
            if (mask != null) {
                for (int i = 0; i < mask.getProcessor().getPixelCount(); i++) {
                    int v = mask.getProcessor().get(i);
                    if (v != 0) {
                        inMasks.add(v);
                    }
                }
            }
        }
        Set<Integer> inText = new TreeSet<>();
        for (String line : lines) {
            inText.add(Integer.parseInt(line.trim().split(" ")[0]));
        }
        details.put("ctc_labels", inMasks.size());
        checker.check(!inMasks.isEmpty() && inText.containsAll(inMasks),
                "CTC masks hold labels " + inMasks + " not all in res_track.txt " + inText);
        checker.check(manager.getCount() > 0, "Track labels added no ROIs");
    }

    private void loadModel(String checkpoint) throws Exception {
        if (checkpoint.isEmpty()) {
            details.put("load_model", "skipped (no checkpoint under a model root)");
            return;
        }
        IJ.run("Load model", "name=copy checkpoint_path=[" + checkpoint + "]");
        details.put("load_model", String.valueOf(servedModels().contains("copy")));
        checker.check(servedModels().contains("copy"), "Load model: 'copy' is not served: " + servedModels());
    }

    /**
     * A box through an object handle, a negative click inside the object corrects it (same name,
     * still one ROI), Undo restores the first mask, a second Undo removes the object.
     */
    private void correctAndUndo(RoiManager manager, ImagePlus hela, int[] box) throws Exception {
        WindowManager.setCurrentWindow(hela.getWindow());
        manager.reset();
        hela.setRoi(new Roi(box[0], box[1], box[2] - box[0], box[3] - box[1]));
        IJ.run("Segment from ROI", "mode=[one object]");
        settle();
        checker.check(manager.getCount() == 1, "one object: " + manager.getCount() + " ROIs");
        if (manager.getCount() != 1) {
            return;
        }
        Roi first = manager.getRoi(0);
        long area0 = org.sambridge.ij.convert.RoiConverter.pixelCount(first);
        java.awt.Point[] inside = first.getContainedPoints();
        java.awt.Point click = inside[inside.length / 2];
        ij.gui.PointRoi negative = new ij.gui.PointRoi(click.x, click.y);
        negative.setName("neg");
        WindowManager.getCurrentImage().setRoi(negative);
        int logBefore = IJ.getLog().length();
        IJ.run("Segment from ROI", "mode=[one object]");
        settle();
        String log = IJ.getLog().substring(logBefore);
        long area1 = manager.getCount() == 1 ? org.sambridge.ij.convert.RoiConverter.pixelCount(manager.getRoi(0)) : -1;
        details.put("correction_areas", area0 + " -> " + area1);
        checker.check(log.contains("corrected " + first.getName()), "the click did not correct " + first.getName()
                + ": " + log);
        checker.check(manager.getCount() <= 1 && (manager.getCount() == 0 || first.getName().equals(
                manager.getRoi(0).getName())), "the correction did not keep one ROI named " + first.getName());
        IJ.run("Undo last SAM step");
        settle();
        long undone = manager.getCount() == 1 ? org.sambridge.ij.convert.RoiConverter.pixelCount(manager.getRoi(0)) : -1;
        details.put("undo_area", undone);
        checker.check(undone == area0, "Undo did not restore the first mask: " + area0 + " vs " + undone);
        IJ.run("Undo last SAM step");
        settle();
        checker.check(manager.getCount() == 0, "the second Undo left " + manager.getCount() + " ROIs");
        ImagePlus labels = WindowManager.getImage(hela.getShortTitle() + "-SAM-labels");
        int id = Integer.parseInt(first.getName().substring(4));
        boolean gone = true;
        for (int i = 0; labels != null && i < labels.getProcessor().getPixelCount(); i++) {
            gone &= labels.getProcessor().get(i) != id;
        }
        checker.check(gone, "the second Undo left pixels of " + first.getName() + " in the label image");
    }

    private void finetune(RoiManager manager, ImagePlus hela) throws Exception {
        WindowManager.setCurrentWindow(hela.getWindow());
        manager.reset();
        ImagePlus labels = WindowManager.getImage(hela.getShortTitle() + "-SAM-labels");
        checker.check(labels != null, "no label image of " + hela.getTitle() + " to train on");
        // ROI Manager: the objects of the label image as ROIs
        for (Roi roi : org.sambridge.ij.convert.RoiConverter.labelsToRois(
                org.sambridge.ij.convert.LabelProcessors.fromProcessor(labels.getProcessor()), 0)) {
            manager.addRoi(roi);
        }
        details.put("finetune_rois", manager.getCount());
        String common = " base_model=[] epochs=1 time_budget=300 patch_size=64 steps_per_epoch=2 freeze_encoder";
        IJ.run("Finetune", "annotations=[ROI Manager] output_model=tuned_rois" + common);
        settle();
        ImagePlus plot = WindowManager.getImage("SAMBridge loss tuned_rois");
        Object points1 = plot == null ? null : plot.getProperty("sambridge_loss_points");
        details.put("finetune_plot_points", String.valueOf(points1));
        checker.check(plot != null && points1 != null && Integer.parseInt((String) points1) > 0,
                "Finetune from the ROI Manager showed no loss Plot with points");
        WindowManager.setCurrentWindow(hela.getWindow());
        IJ.run("Finetune", "annotations=[label image] labels=[" + labels.getTitle() + "] output_model=tuned_labels"
                + common);
        settle();
        List<String> served = servedModels();
        details.put("finetune_models", served.toString());
        checker.check(served.contains("tuned_rois") && served.contains("tuned_labels"),
                "finetuned models are not served: " + served);
    }

    private void status() {
        int before = IJ.getLog() == null ? 0 : IJ.getLog().length();
        IJ.run("Status");
        String log = IJ.getLog() == null ? "" : IJ.getLog().substring(before);
        details.put("status_log", log.trim());
        checker.check(log.contains("SAMBridge status: server " + address) && log.contains("served: default"),
                "Status did not log the server and its models: " + log);
    }

    private void unknownModel() {
        int before = IJ.getLog().length();
        IJ.run("Connect", "address=" + address + " token=" + token + " timeout=30 long_timeout=600 model=vit_nope");
        String log = IJ.getLog().substring(before);
        checker.check(log.contains("no model \"vit_nope\""), "Connect accepted an unknown model: " + log);
        int statusBefore = IJ.getLog().length();
        IJ.run("Status");
        checker.check(IJ.getLog().substring(statusBefore).contains("SAMBridge status"),
                "the refused Connect dropped the previous connection");
    }

    private void disconnect() {
        IJ.run("Disconnect");
        int before = IJ.getLog().length();
        IJ.runMacro("run(\"Status\");"); // from a macro: the failure goes to the Log, no modal dialog
        String log = IJ.getLog().substring(before);
        details.put("after_disconnect", log.trim());
        checker.check(log.contains("Not connected"), "Status after Disconnect: " + log);
    }

    private List<String> servedModels() {
        List<String> names = new ArrayList<>();
        try (SamBridgeClient client = SamBridgeClient.connect(address, token, false, 30)) {
            for (ModelInfo model : client.listModels()) {
                names.add(model.getName());
            }
        }
        return names;
    }

    private static Map<String, Set<Integer>> slicesByName(RoiManager manager) {
        return slicesByName(java.util.Arrays.asList(manager.getRoisAsArray()));
    }

    private static Map<String, Set<Integer>> slicesByName(List<Roi> rois) {
        Map<String, Set<Integer>> slices = new java.util.TreeMap<>();
        for (Roi roi : rois) {
            int z = roi.hasHyperStackPosition() ? roi.getZPosition() : roi.getPosition();
            slices.computeIfAbsent(roi.getName(), k -> new TreeSet<>()).add(z);
        }
        return slices;
    }

    private static Set<Integer> zSlices(Map<String, Set<Integer>> slices) {
        Set<Integer> all = new TreeSet<>();
        for (Set<Integer> s : slices.values()) {
            all.addAll(s);
        }
        return all;
    }

    private static void settle() throws Exception {
        SwingUtilities.invokeAndWait(() -> { });
        Thread.sleep(500);
        SwingUtilities.invokeAndWait(() -> { });
    }
}
