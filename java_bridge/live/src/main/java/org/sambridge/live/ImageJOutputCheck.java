package org.sambridge.live;

import ij.IJ;
import ij.ImagePlus;
import ij.gui.Roi;
import ij.io.RoiDecoder;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.sambridge.client.LabelImage;
import org.sambridge.ij.convert.LabelProcessors;
import org.sambridge.ij.convert.RoiConverter;

/**
 * Checks the files written by live/segment_hela.ijm (a headless macro can fail
 * and still exit 0, so only the files count): for each step, the ROI zip and the
 * label image must exist and agree (one ROI per label, same pixel areas).
 * Prints a JSON summary on stdout; exit code 0 only if every check passed.
 *
 * <p>Usage: {@code java ... org.sambridge.live.ImageJOutputCheck OUT_DIR N_POINT_PROMPTS}
 */
public final class ImageJOutputCheck {
    private ImageJOutputCheck() {
    }

    /**
     * @param args output folder and the number of point prompts
     * @throws IOException on unreadable files
     */
    public static void main(String[] args) throws IOException {
        File dir = new File(args[0]);
        int points = Integer.parseInt(args[1]);
        List<String> problems = new ArrayList<>();
        StringBuilder json = new StringBuilder("{");
        if (!new File(dir, "done.txt").isFile()) {
            problems.add("done.txt missing: the macro did not finish");
        }
        // points: at most one object per point (SAM may return an empty mask for one); box: exactly 1
        String[][] steps = {{"points", Integer.toString(points)}, {"box", "1"}, {"ais", "0"}};
        for (String[] step : steps) {
            json.append('"').append(step[0]).append("\":")
                    .append(check(dir, step[0], Integer.parseInt(step[1]), step[0].equals("box"), problems))
                    .append(',');
        }
        json.append("\"problems\":[");
        for (int i = 0; i < problems.size(); i++) {
            json.append(i > 0 ? "," : "").append('"').append(problems.get(i).replace("\"", "'")).append('"');
        }
        json.append("],\"ok\":").append(problems.isEmpty()).append('}');
        System.out.println(json);
        System.exit(problems.isEmpty() ? 0 : 1);
    }

    /** Checks one step: 1..max ROIs (max 0 = no upper bound), exactly max if exact. */
    private static String check(File dir, String step, int max, boolean exact, List<String> problems)
            throws IOException {
        File zip = new File(dir, step + "_rois.zip");
        File tif = new File(dir, step + "_labels.tif");
        if (!zip.isFile() || !tif.isFile()) {
            problems.add(step + ": missing " + (zip.isFile() ? tif.getName() : zip.getName()));
            return "null";
        }
        Map<String, Long> roiAreas = new TreeMap<>();
        for (Roi roi : readRois(zip)) {
            roiAreas.put(roi.getName(), RoiConverter.pixelCount(roi));
        }
        ImagePlus imp = IJ.openImage(tif.getPath());
        LabelImage labels = LabelProcessors.fromProcessor(imp.getProcessor());
        Map<String, Long> labelAreas = new TreeMap<>();
        for (int v : labels.labels()) {
            if (v != 0) {
                labelAreas.merge(String.format("SAM-%04d", v), 1L, Long::sum);
            }
        }
        if (!roiAreas.equals(labelAreas)) {
            problems.add(step + ": ROI areas " + roiAreas + " differ from label areas " + labelAreas);
        }
        int n = roiAreas.size();
        if (n == 0 || (max > 0 && n > max) || (exact && n != max)) {
            problems.add(step + ": unexpected ROI count " + n + (max > 0 ? " (max " + max + ")" : ""));
        }
        StringBuilder areas = new StringBuilder();
        for (Map.Entry<String, Long> e : roiAreas.entrySet()) {
            areas.append(areas.length() > 0 ? "," : "").append('"').append(e.getKey()).append("\":")
                    .append(e.getValue());
        }
        return "{\"roi_count\":" + n + ",\"areas\":{" + areas + "},\"image\":[" + imp.getWidth() + ","
                + imp.getHeight() + "]}";
    }

    private static List<Roi> readRois(File zip) throws IOException {
        List<Roi> rois = new ArrayList<>();
        try (ZipFile file = new ZipFile(zip)) {
            Enumeration<? extends ZipEntry> entries = file.entries();
            while (entries.hasMoreElements()) {
                ZipEntry entry = entries.nextElement();
                try (InputStream in = file.getInputStream(entry)) {
                    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                    byte[] buffer = new byte[8192];
                    for (int n; (n = in.read(buffer)) > 0; ) {
                        bytes.write(buffer, 0, n);
                    }
                    rois.add(new RoiDecoder(bytes.toByteArray(), entry.getName()).getRoi());
                }
            }
        }
        return rois;
    }
}
