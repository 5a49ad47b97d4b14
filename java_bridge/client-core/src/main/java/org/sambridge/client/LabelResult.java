package org.sambridge.client;

import com.google.protobuf.Message;
import java.util.Collections;
import java.util.List;
import org.sambridge.v1.ObjectInfo;

/**
 * A decoded label image with its per-object information, as returned by
 * SegmentObjects, AutoSegment, Propagate, PropagateObjects and Track.
 */
public final class LabelResult {
    private final LabelImage labels;
    private final List<ObjectInfo> objects;
    private final Message raw;

    /**
     * @param labels decoded labels
     * @param objects per-object info (may be empty)
     * @param raw the result message (AutoSegmentResult, VolumeResult, TrackResult, ...)
     */
    public LabelResult(LabelImage labels, List<ObjectInfo> objects, Message raw) {
        this.labels = labels;
        this.objects = Collections.unmodifiableList(objects);
        this.raw = raw;
    }

    /** @return the label image */
    public LabelImage labels() {
        return labels;
    }

    /** @return per-object info (label, score, bbox, area, index) */
    public List<ObjectInfo> objects() {
        return objects;
    }

    /** @return the raw result message, e.g. to read tracks or the z range */
    public Message raw() {
        return raw;
    }

    /**
     * @param label an object label
     * @return its score, or NaN if unknown
     */
    public float scoreOf(int label) {
        for (ObjectInfo info : objects) {
            if (info.getLabel() == label) {
                return info.getScore();
            }
        }
        return Float.NaN;
    }
}
