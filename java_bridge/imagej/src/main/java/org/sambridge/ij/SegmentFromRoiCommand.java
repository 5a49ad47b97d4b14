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
 * any choice but "best" asks the server for all three; the Log lists their scores and areas;
 * with "multimask" and mask=best an interactive run shows a picker dialog with the scores).
 * "one object" without multimask segments through a server-side object handle: points later
 * placed on that object correct it (its earlier prompts and logits are kept), and
 * "Undo last SAM step" takes a step back. Results are added to the source's one label image and the source stays active, so the next
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
        int index = BridgeSession.currentIndex(imp);
        LabelTarget target = LabelTarget.of(imp);
        int under = prompts.boxes().isEmpty() ? ObjectCorrection.objectUnder(target, prompts.allPoints(), index) : 0;
        if (under > 0) { // points on an object segmented through a handle: correct it
            ObjectCorrection.correct(imp, client, BridgeSession.upload(imp), index, under, prompts.allPoints());
            ResultPublisher.keepActive(imp);
            return;
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
        IJ.showStatus("SAMBridge: uploading...");
        String imageId = BridgeSession.upload(imp);
        IJ.showStatus("SAMBridge: segmenting...");
        LabelResult result;
        String handle = null;
        if (perPrompt) {
            result = client.segmentObjects(imageId, index, prompts.positives(), prompts.boxes(),
                    prompts.negatives());
        } else if (!multimask) {
            handle = "ij-" + imp.getID() + "-" + System.nanoTime();
            result = segmentThroughHandle(client, imageId, index, prompts, handle);
        } else {
            result = segmentOne(client, imageId, index, prompts, mask, !fromMacro());
            if (result == null) {
                return; // picker cancelled
            }
        }
        ResultPublisher.Published published = ResultPublisher.publish(imp, result,
                imp.getStackSize() > 1 ? index : -1, false, name());
        if (handle != null && published.ids.containsKey(1)) {
            target.setHandle(published.ids.get(1), handle);
        }
    }

    /** One object through a new server-side handle, so that later clicks on it correct it. */
    private static LabelResult segmentThroughHandle(SamBridgeClient client, String imageId, int index,
            PromptCollector prompts, String handle) {
        if (prompts.boxes().size() > 1) {
            throw new IllegalArgumentException("mode 'one object' takes at most one rectangle");
        }
        Box box = prompts.boxes().isEmpty() ? null : prompts.boxes().get(0);
        SegmentResult result = client.segmentObject(imageId, index, handle, prompts.allPoints(), box);
        return single(result, 0, result.raw().getScoresCount() > 0 ? result.score(0) : Float.NaN);
    }

    /** The picked mask of a result as a one-object label result. */
    private static LabelResult single(SegmentResult result, int picked, float score) {
        Mask kept = result.masks().get(picked);
        boolean[][] mask = org.sambridge.client.MaskCodec.unpack(kept);
        int width = kept.getWidth();
        int height = kept.getHeight();
        int[] labels = new int[width * height];
        for (int y = 0; y < mask.length; y++) {
            for (int x = 0; x < mask[y].length; x++) {
                labels[y * width + x] = mask[y][x] ? 1 : 0;
            }
        }
        List<ObjectInfo> objects = new ArrayList<>();
        objects.add(ObjectInfo.newBuilder().setLabel(1).setScore(score).build());
        return new LabelResult(new LabelImage(labels, 1, height, width, "yx"), objects, result.raw());
    }

    /** All three masks; the picker dialog (interactive, mask=best) or the mask option keeps one. */
    private static LabelResult segmentOne(SamBridgeClient client, String imageId, int index,
            PromptCollector prompts, String choice, boolean mayAsk) {
        if (prompts.boxes().size() > 1) {
            throw new IllegalArgumentException("mode 'one object' takes at most one rectangle");
        }
        Box box = prompts.boxes().isEmpty() ? null : prompts.boxes().get(0);
        SegmentResult result = client.segment(imageId, index, prompts.allPoints(), box, null, true);
        int n = result.size();
        float[] scores = new float[n];
        long[] areas = new long[n];
        for (int i = 0; i < n; i++) {
            boolean[][] m = org.sambridge.client.MaskCodec.unpack(result.masks().get(i));
            scores[i] = i < result.raw().getScoresCount() ? result.score(i) : Float.NaN;
            for (boolean[] row : m) {
                for (boolean on : row) {
                    areas[i] += on ? 1 : 0;
                }
            }
        }
        int picked = MaskPicker.pick(choice, scores, areas);
        if ("best".equals(choice) && n > 1 && mayAsk && MaskPickerDialog.interactive()) {
            picked = MaskPickerDialog.ask(scores, areas, picked);
            if (picked < 0) {
                return null;
            }
        }
        if (n > 1) {
            IJ.log("SAMBridge Segment: " + n + " masks (mask=" + choice + ")" + MaskPicker.describe(scores, areas,
                    picked));
        }
        return single(result, picked, scores[picked]);
    }
}
