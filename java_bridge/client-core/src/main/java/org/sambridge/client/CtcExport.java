package org.sambridge.client;

import java.util.ArrayList;
import java.util.List;
import org.sambridge.v1.Track;

/**
 * The Cell Tracking Challenge result format (plain text part): {@code res_track.txt} has one line
 * "L B E P" per track (label, first frame, last frame, parent label or 0), and the masks are
 * 16-bit TIFFs {@code maskTTT.tif} (three digits, four from 1000 frames on) whose pixel values
 * are the track labels. Writing the TIFFs is left to the caller (ImageJ, QuPath).
 */
public final class CtcExport {
    private CtcExport() {
    }

    /**
     * @param tracks the server's tracks (TrackResult.tracks)
     * @return the lines of res_track.txt, in track order, without line ends
     */
    public static List<String> trackLines(List<Track> tracks) {
        List<String> lines = new ArrayList<>();
        for (Track track : tracks) {
            lines.add(track.getId() + " " + track.getBegin() + " " + track.getEnd() + " " + track.getParent());
        }
        return lines;
    }

    /**
     * @param frame 0-based frame
     * @param frames number of frames of the series
     * @return the mask file name, e.g. "mask007.tif"
     */
    public static String maskName(int frame, int frames) {
        return String.format(frames > 1000 ? "mask%04d.tif" : "mask%03d.tif", frame);
    }

    /**
     * Checks that a label series can be written as CTC masks (16-bit).
     *
     * @param labels the "tyx" labels
     * @throws IllegalArgumentException if a label exceeds 65535
     */
    public static void requireSixteenBit(LabelImage labels) {
        for (int v : labels.labels()) {
            if (v < 0 || v > 65535) {
                throw new IllegalArgumentException("label " + Integer.toUnsignedString(v)
                        + " does not fit a 16-bit CTC mask");
            }
        }
    }
}
