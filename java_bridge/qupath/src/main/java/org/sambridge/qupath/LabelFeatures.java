package org.sambridge.qupath;

import org.sambridge.client.GeoJson;
import org.sambridge.client.LabelResult;
import org.sambridge.client.PixelTransform;

/**
 * The one label image -&gt; GeoJSON step every QuPath script shares: each object of a result becomes
 * a Feature (MultiPolygon with holes and all parts, in full-resolution image coordinates via the
 * region's transform) with its name, label and "SAM score" measurement, ready for QuPath's
 * {@code GsonTools} / {@code GeometryTools}.
 */
public final class LabelFeatures {
    private LabelFeatures() {
    }

    /**
     * @param result the server's label result for the region (a "yx" plane, or plane 0 of a stack)
     * @param transform region -&gt; image coordinates (offset and downsample of the RegionRequest)
     * @param detections "detection" objects instead of "annotation"
     * @return a GeoJSON FeatureCollection
     */
    public static String of(LabelResult result, PixelTransform transform, boolean detections) {
        return GeoJson.featureCollection(result.labels(), 0, result.objects(), transform,
                detections ? "detection" : "annotation");
    }
}
