package org.sambridge.ij;

import ij.IJ;
import ij.ImagePlus;
import ij.gui.GenericDialog;
import java.util.ArrayList;
import java.util.List;
import org.sambridge.client.LabelImage;
import org.sambridge.client.LabelResult;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.client.SegmentResult;
import org.sambridge.v1.Box;
import org.sambridge.v1.Mask;
import org.sambridge.v1.ObjectInfo;

/**
 * Plugins &gt; SAMBridge &gt; Segment from ROI: the current selection (points,
 * rectangles, composites) prompts SAM on the displayed slice. Macro:
 * {@code run("Segment from ROI", "mode=[one object] multimask mask=largest");}
 * ({@code mask=best|largest|smallest|0|1|2} picks one of the three masks of mode "one object";
 * any choice but "best" asks the server for all three; the Log lists their scores and areas).
 * Results are added to the source's one label image and the source stays active, so the next
 * selection can be drawn and segmented right away.
 */
public final class SegmentFromRoiCommand extends BridgeCommand {
    static final String ONE_OBJECT = "one object";
    static final String PER_PROMPT = "one object per prompt";

    @Override
    protected String name() {
        return "Segment from ROI";
    }

    @Override
    protected void execute() {
        ImagePlus imp = requireImage();
        SamBridgeClient client = BridgeSession.require();
        PromptCollector prompts = PromptCollector.collect(imp.getRoi());
        if (prompts.isEmpty()) {
            throw new IllegalStateException("Make a point or rectangle selection first (name it \"neg...\" "
                    + "or hold Alt for background points).");
        }
        GenericDialog gd = new GenericDialog("SAMBridge Segment from ROI");
        gd.addChoice("mode", new String[] {PER_PROMPT, ONE_OBJECT}, PER_PROMPT);
        gd.addCheckbox("multimask", false);
        gd.addChoice("mask", MaskPicker.CHOICES, MaskPicker.CHOICES[0]);
        gd.showDialog();
        if (gd.wasCanceled()) {
            return;
        }
        boolean perPrompt = PER_PROMPT.equals(gd.getNextChoice());
        boolean multimask = gd.getNextBoolean();
        String mask = gd.getNextChoice();
        if (MaskPicker.needsMultimask(mask)) {
            multimask = true;
        }
        int index = BridgeSession.currentIndex(imp);
        IJ.showStatus("SAMBridge: uploading...");
        String imageId = BridgeSession.upload(imp);
        IJ.showStatus("SAMBridge: segmenting...");
        LabelResult result;
        if (perPrompt) {
            result = client.segmentObjects(imageId, index, prompts.positives(), prompts.boxes(),
                    prompts.negatives());
        } else {
            result = segmentOne(client, imageId, index, prompts, multimask, mask);
        }
        ResultPublisher.publish(imp, result, imp.getStackSize() > 1 ? index : -1, false, name());
    }

    private static LabelResult segmentOne(SamBridgeClient client, String imageId, int index,
            PromptCollector prompts, boolean multimask, String choice) {
        if (prompts.boxes().size() > 1) {
            throw new IllegalArgumentException("mode 'one object' takes at most one rectangle");
        }
        Box box = prompts.boxes().isEmpty() ? null : prompts.boxes().get(0);
        SegmentResult result = client.segment(imageId, index, prompts.allPoints(), box, null, multimask);
        int n = result.size();
        float[] scores = new float[n];
        long[] areas = new long[n];
        List<boolean[][]> unpacked = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            boolean[][] m = org.sambridge.client.MaskCodec.unpack(result.masks().get(i));
            unpacked.add(m);
            scores[i] = i < result.raw().getScoresCount() ? result.score(i) : Float.NaN;
            for (boolean[] row : m) {
                for (boolean on : row) {
                    areas[i] += on ? 1 : 0;
                }
            }
        }
        int picked = MaskPicker.pick(choice, scores, areas);
        Mask kept = result.masks().get(picked);
        boolean[][] mask = unpacked.get(picked);
        int width = kept.getWidth();
        int height = kept.getHeight();
        int[] labels = new int[width * height];
        for (int y = 0; y < mask.length; y++) {
            for (int x = 0; x < mask[y].length; x++) {
                labels[y * width + x] = mask[y][x] ? 1 : 0;
            }
        }
        List<ObjectInfo> objects = new ArrayList<>();
        objects.add(ObjectInfo.newBuilder().setLabel(1).setScore(scores[picked]).build());
        if (n > 1) {
            IJ.log("SAMBridge Segment: " + n + " masks (mask=" + choice + ")" + MaskPicker.describe(scores, areas,
                    picked));
        }
        return new LabelResult(new LabelImage(labels, 1, height, width, "yx"), objects, result.raw());
    }
}
