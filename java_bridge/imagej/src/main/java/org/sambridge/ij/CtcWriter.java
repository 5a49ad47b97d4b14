package org.sambridge.ij;

import ij.IJ;
import ij.ImagePlus;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import org.sambridge.client.CtcExport;
import org.sambridge.client.LabelImage;
import org.sambridge.ij.convert.LabelProcessors;
import org.sambridge.v1.TrackResult;

/**
 * Writes a tracking result in the Cell Tracking Challenge format into a folder: one 16-bit
 * {@code maskTTT.tif} per frame (pixel values = track ids) and {@code res_track.txt}.
 */
public final class CtcWriter {
    private CtcWriter() {
    }

    /**
     * @param folder the output folder (created if needed)
     * @param labels the server's "tyx" track labels
     * @param tracks the server's tracks
     * @return the number of mask files written
     * @throws IOException if a file cannot be written
     */
    public static int write(File folder, LabelImage labels, TrackResult tracks) throws IOException {
        CtcExport.requireSixteenBit(labels);
        if (!folder.isDirectory() && !folder.mkdirs()) {
            throw new IOException("cannot create " + folder);
        }
        int frames = labels.depth();
        for (int t = 0; t < frames; t++) {
            ImagePlus mask = new ImagePlus("mask", LabelProcessors.toProcessor(labels, t).convertToShort(false));
            File file = new File(folder, CtcExport.maskName(t, frames));
            if (!IJ.saveAsTiff(mask, file.getPath())) {
                throw new IOException("cannot write " + file);
            }
        }
        StringBuilder text = new StringBuilder();
        for (String line : CtcExport.trackLines(tracks.getTracksList())) {
            text.append(line).append('\n');
        }
        Files.write(new File(folder, "res_track.txt").toPath(), text.toString().getBytes(StandardCharsets.UTF_8));
        return frames;
    }
}
