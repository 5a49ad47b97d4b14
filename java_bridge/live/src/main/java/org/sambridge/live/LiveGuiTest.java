package org.sambridge.live;

import ij.IJ;
import ij.ImageJ;
import ij.ImagePlus;
import ij.Macro;
import ij.WindowManager;
import ij.gui.PointRoi;
import ij.gui.Roi;
import ij.plugin.frame.Recorder;
import ij.plugin.frame.RoiManager;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import javax.swing.SwingUtilities;
import org.sambridge.client.MaskCodec;
import org.sambridge.client.Prompts;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.client.SegmentResult;
import org.sambridge.ij.ConnectCommand;
import org.sambridge.ij.convert.ImageJArrays;
import org.sambridge.ij.convert.RoiConverter;

/**
 * The plugin as a user drives it, with real windows (run under Xvfb, not in batch mode):
 * <ul>
 * <li>Connect with the macro recorder on: the recorded command has no token;</li>
 * <li>three successive "Segment from ROI" calls on whatever image is active: exactly one label
 * image window, unique ROI names, the source stays the active image;</li>
 * <li>{@code mask=largest|smallest|1}: the ROI has the area of the mask named (checked against
 * the server's three masks fetched with the client);</li>
 * <li>Track on a 3-frame hyperstack: every ROI has its frame as T position, one name per track,
 * one ROI per frame of a track;</li>
 * Writes a JSON summary (ok, problems, details) to the output file; exit code 0 only if ok.
 *
 * <li>then every other command ({@link CapabilityChecks}): Auto 3D, Propagate all objects, Track
 * labels with CTC export, Load model, Finetune from the ROI Manager and from a label image, Status,
 * Connect with an unknown model, Disconnect.</li>
 * </ul>
 *
 * <p>Usage: {@code LiveGuiTest ADDRESS TOKEN hela.tif hela_t.tif x1,y1,x2,y2,x3,y3 bx0,by0,bx1,by1 OUT.json
 * [CHECKPOINT]} (CHECKPOINT: a file under the server's model root for Load model; none skips it)
 */
public final class LiveGuiTest {
    private final List<String> problems = new ArrayList<>();
    private final Map<String, Object> details = new HashMap<>();

    private LiveGuiTest() {
    }

    /**
     * @param args see the class comment
     * @throws Exception on unexpected failures (reported as a problem)
     */
    public static void main(String[] args) throws Exception {
        LiveGuiTest test = new LiveGuiTest();
        try {
            test.run(args);
        } catch (Throwable e) {
            test.problems.add("exception: " + e);
            e.printStackTrace();
        }
        String json = test.json();
        Files.write(new File(args[6]).toPath(), json.getBytes(StandardCharsets.UTF_8));
        System.out.println(json);
        System.exit(test.problems.isEmpty() ? 0 : 1);
    }

    void check(boolean ok, String problem) {
        if (!ok) {
            problems.add(problem);
        }
    }

    private void run(String[] args) throws Exception {
        String address = args[0];
        String token = args[1];
        Thread.currentThread().setName("Run$_LiveGuiTest"); // Macro options are per "Run$_" thread
        new ImageJ(ImageJ.NO_SHOW);

        // 1) Connect with the recorder on: what it records has no token
        Recorder recorder = new Recorder();
        Recorder.recordInMacros = true;
        Recorder.setCommand("Connect");
        Macro.setOptions(Thread.currentThread(), "address=" + address + " token=" + token
                + " timeout=60 long_timeout=1800 model=");
        new ConnectCommand().run("");
        Macro.setOptions(Thread.currentThread(), null);
        Recorder.saveCommand();
        String recorded = recorder.getText();
        details.put("recorded", recorded.trim());
        check(recorded.contains("run(\"Connect\"") && recorded.contains("address=" + address),
                "the recorder did not record Connect: " + recorded);
        check(!recorded.contains(token) && !recorded.contains("token="), "the recorder recorded the token");
        recorder.close();
        Recorder.record = false;

        // 2) click, segment, click: three successive Segment from ROI on the active image
        ImagePlus source = IJ.openImage(args[2]);
        source.show();
        settle();
        String[] p = args[4].split(",");
        RoiManager manager = RoiManager.getRoiManager();
        manager.reset();
        List<String> activeTitles = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            ImagePlus active = WindowManager.getCurrentImage();
            activeTitles.add(active == null ? "none" : active.getTitle());
            if (active == null) {
                break;
            }
            active.setRoi(new PointRoi(Integer.parseInt(p[2 * i]), Integer.parseInt(p[2 * i + 1])));
            IJ.run("Segment from ROI", "mode=[one object per prompt]");
            settle();
        }
        ImagePlus active = WindowManager.getCurrentImage();
        activeTitles.add(active == null ? "none" : active.getTitle());
        details.put("active_titles", activeTitles);
        for (String title : activeTitles) {
            check(source.getTitle().equals(title), "the active image became " + title);
        }
        check(labelWindows().size() == 1, "label windows after 3 calls: " + labelWindows());
        List<String> names = roiNames(manager);
        details.put("click_loop_names", names);
        check(names.size() == 3 && new HashSet<>(names).size() == 3, "ROI names not 3 and unique: " + names);
        check(names.contains("SAM-0001") && names.contains("SAM-0003"), "names do not run 1..3: " + names);
        ImagePlus labels = WindowManager.getImage(source.getShortTitle() + "-SAM-labels");
        check(labels != null && labels.getProcessor().getMax() >= 3, "the label image does not hold objects 1..3");
        check(labels != null && !labels.getProcessor().isDefaultLut(), "the label image has a grey LUT");

        // 3) the multimask picker keeps the mask named
        String[] b = args[5].split(",");
        int x0 = Integer.parseInt(b[0]);
        int y0 = Integer.parseInt(b[1]);
        int x1 = Integer.parseInt(b[2]);
        int y1 = Integer.parseInt(b[3]);
        long[] areas;
        try (SamBridgeClient client = SamBridgeClient.connect(address, token, false, 60)) {
            String id = client.upload(ImageJArrays.fromImagePlus(source, "z")).getImageId();
            SegmentResult masks = client.segment(id, 0, new ArrayList<>(), Prompts.box(x0, y0, x1, y1), null, true);
            areas = new long[masks.size()];
            for (int i = 0; i < masks.size(); i++) {
                for (boolean[] row : MaskCodec.unpack(masks.masks().get(i))) {
                    for (boolean on : row) {
                        areas[i] += on ? 1 : 0;
                    }
                }
            }
        }
        long largest = 0;
        long smallest = Long.MAX_VALUE;
        for (long a : areas) {
            largest = Math.max(largest, a);
            smallest = Math.min(smallest, a);
        }
        Map<String, Long> expected = new HashMap<>();
        expected.put("largest", largest);
        expected.put("smallest", smallest);
        expected.put("1", areas[1]);
        Map<String, Long> got = new HashMap<>();
        for (String choice : new String[] {"largest", "smallest", "1"}) {
            ImagePlus now = WindowManager.getCurrentImage();
            now.setRoi(new Roi(x0, y0, x1 - x0, y1 - y0));
            int before = manager.getCount();
            IJ.run("Segment from ROI", "mode=[one object] mask=" + choice);
            settle();
            check(manager.getCount() == before + 1, "mask=" + choice + " added " + (manager.getCount() - before)
                    + " ROIs");
            if (manager.getCount() > before) {
                got.put(choice, RoiConverter.pixelCount(manager.getRoi(manager.getCount() - 1)));
            }
        }
        details.put("mask_areas_server", java.util.Arrays.toString(areas));
        details.put("mask_areas_picked", got.toString());
        check(expected.equals(got), "picked masks " + got + " differ from the server's " + expected);
        check(labelWindows().size() == 1, "label windows after the mask calls: " + labelWindows());

        // 4) Track: ROIs on their own frame
        ImagePlus series = IJ.openImage(args[3]);
        series.show();
        settle();
        details.put("series_dims", java.util.Arrays.toString(series.getDimensions()) + " hyperstack="
                + series.isHyperStack());
        manager.reset();
        IJ.run("Track", "segmentation=auto max_distance=50 time_limit=30");
        settle();
        Map<String, Set<Integer>> framesOf = new HashMap<>();
        int bad = 0;
        for (Roi roi : manager.getRoisAsArray()) {
            int t = roi.getTPosition();
            if (t < 1 || t > series.getNFrames()) {
                bad++;
            }
            if (!framesOf.computeIfAbsent(roi.getName(), k -> new TreeSet<>()).add(t)) {
                problems.add("track " + roi.getName() + " has two ROIs on frame " + t);
            }
        }
        Set<Integer> frames = new TreeSet<>();
        for (Set<Integer> f : framesOf.values()) {
            frames.addAll(f);
        }
        details.put("track_rois", manager.getCount());
        details.put("tracks", framesOf.size());
        details.put("track_frames", frames.toString());
        check(manager.getCount() > 0, "Track added no ROIs");
        check(bad == 0, bad + " Track ROIs without their frame as T position");
        check(frames.size() == series.getNFrames(), "Track ROIs cover frames " + frames);
        check(framesOf.size() < manager.getCount(), "no track spans several frames: " + framesOf);
        ImagePlus now = WindowManager.getCurrentImage();
        check(now == series, "after Track the active image is " + (now == null ? "none" : now.getTitle()));
        check(labelWindows().size() == 2, "label windows (one per source): " + labelWindows());

        File out = new File(args[6]).getAbsoluteFile().getParentFile();
        new CapabilityChecks(this::check, details, address, token, out).run(source, series,
                new int[] {x0, y0, x1, y1}, args.length > 7 ? args[7] : "");
    }

    /** Records a problem unless ok (shared with {@link CapabilityChecks}). */
    interface Checker {
        /**
         * @param ok the condition
         * @param problem what is wrong if not
         */
        void check(boolean ok, String problem);
    }

    private static List<String> labelWindows() {
        List<String> titles = new ArrayList<>();
        int[] ids = WindowManager.getIDList();
        for (int id : ids == null ? new int[0] : ids) {
            ImagePlus imp = WindowManager.getImage(id);
            if (imp != null && imp.getTitle().contains("-SAM-labels")) {
                titles.add(imp.getTitle());
            }
        }
        return titles;
    }

    private static List<String> roiNames(RoiManager manager) {
        List<String> names = new ArrayList<>();
        for (Roi roi : manager.getRoisAsArray()) {
            names.add(roi.getName());
        }
        return names;
    }

    /** Lets window and focus events settle, as between a user's clicks. */
    private static void settle() throws Exception {
        SwingUtilities.invokeAndWait(() -> { });
        Thread.sleep(700);
        SwingUtilities.invokeAndWait(() -> { });
    }

    private String json() {
        StringBuilder out = new StringBuilder("{\"ok\":").append(problems.isEmpty()).append(",\"problems\":[");
        for (int i = 0; i < problems.size(); i++) {
            out.append(i > 0 ? "," : "").append(quote(problems.get(i)));
        }
        out.append("]");
        for (Map.Entry<String, Object> e : new java.util.TreeMap<>(details).entrySet()) {
            Object v = e.getValue();
            out.append(',').append(quote(e.getKey())).append(':')
                    .append(v instanceof Number ? v.toString() : quote(String.valueOf(v)));
        }
        return out.append('}').toString();
    }

    private static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
    }
}
