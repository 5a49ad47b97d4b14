package org.sambridge.client;

import java.util.List;
import org.sambridge.v1.Mask;
import org.sambridge.v1.SegmentResponse;

/** The masks (best first) and scores of one interactive segmentation. */
public final class SegmentResult {
    private final SegmentResponse response;

    /**
     * @param response the server's response
     */
    public SegmentResult(SegmentResponse response) {
        this.response = response;
    }

    /** @return number of masks (1, or 3 with multimask) */
    public int size() {
        return response.getMasksCount();
    }

    /** @return the masks, best first */
    public List<Mask> masks() {
        return response.getMasksList();
    }

    /**
     * @param i mask index
     * @return the score of mask i
     */
    public float score(int i) {
        return response.getScores(i);
    }

    /** @return the best mask unpacked, {@code [y][x]} */
    public boolean[][] bestMask() {
        return MaskCodec.unpack(response.getMasks(0));
    }

    /** @return the score of the best mask */
    public float bestScore() {
        return response.getScoresCount() > 0 ? response.getScores(0) : Float.NaN;
    }

    /** @return the window the object was decoded in, (x0, y0, x1, y1) image pixels */
    public org.sambridge.v1.Box window() {
        return response.getWindow();
    }

    /** @return the embeddings' tile the object was decoded on, -1 for a window centred on the prompts */
    public int tileIndex() {
        return response.getTileIndex();
    }

    /** @return the server-side object handle ("" if none) */
    public String objectId() {
        return response.getObjectId();
    }

    /** @return the raw response */
    public SegmentResponse raw() {
        return response;
    }
}
