package org.sambridge.client;

import java.util.List;
import java.util.Map;
import org.sambridge.v1.ObjectInfo;

/**
 * GeoJSON export of masks and label images for QuPath: every object becomes a
 * Polygon (one part) or MultiPolygon (several parts), holes kept, exterior
 * rings counter-clockwise (RFC 7946), coordinates mapped to the full image by a
 * {@link PixelTransform}. Features carry QuPath's "objectType" and a
 * "measurements" map with the SAM score.
 */
public final class GeoJson {
    private GeoJson() {
    }

    /**
     * The geometry of a binary mask.
     *
     * @param mask {@code [y][x]} mask in region pixels
     * @param transform region -&gt; image mapping
     * @return a Polygon/MultiPolygon JSON object, or null for an empty mask
     */
    public static String maskGeometry(boolean[][] mask, PixelTransform transform) {
        return geometry(ContourTracer.trace(mask), transform);
    }

    /**
     * The geometry of polygons.
     *
     * @param parts polygons (holes attached)
     * @param transform region -&gt; image mapping
     * @return a Polygon (one part) or MultiPolygon JSON object, or null if there are no parts
     */
    public static String geometry(List<MaskPolygon> parts, PixelTransform transform) {
        if (parts.isEmpty()) {
            return null;
        }
        StringBuilder json = new StringBuilder();
        if (parts.size() == 1) {
            json.append("{\"type\":\"Polygon\",\"coordinates\":");
            appendPolygon(json, parts.get(0), transform);
        } else {
            json.append("{\"type\":\"MultiPolygon\",\"coordinates\":[");
            for (int i = 0; i < parts.size(); i++) {
                if (i > 0) {
                    json.append(',');
                }
                appendPolygon(json, parts.get(i), transform);
            }
            json.append(']');
        }
        return json.append('}').toString();
    }

    /**
     * A FeatureCollection with one feature per label of a plane.
     *
     * @param labels the label image (region pixels)
     * @param plane plane index (0 for 2D)
     * @param objects per-object info from the server (may be empty); gives the score
     * @param transform region -&gt; image mapping
     * @param objectType "annotation" or "detection"
     * @return the FeatureCollection JSON
     */
    public static String featureCollection(LabelImage labels, int plane, List<ObjectInfo> objects,
            PixelTransform transform, String objectType) {
        Map<Integer, List<MaskPolygon>> contours = LabelContours.trace(labels, plane);
        StringBuilder json = new StringBuilder("{\"type\":\"FeatureCollection\",\"features\":[");
        boolean first = true;
        for (Map.Entry<Integer, List<MaskPolygon>> entry : contours.entrySet()) {
            if (!first) {
                json.append(',');
            }
            first = false;
            int label = entry.getKey();
            Float score = scoreOf(objects, label);
            long area = 0;
            for (MaskPolygon part : entry.getValue()) {
                area += part.area();
            }
            json.append("{\"type\":\"Feature\",\"geometry\":").append(geometry(entry.getValue(), transform))
                    .append(",\"properties\":{\"objectType\":\"").append(objectType)
                    .append("\",\"name\":\"SAM ").append(label).append("\",\"measurements\":{\"label\":")
                    .append(label).append(",\"area_px\":").append(number(area * transform.pixelArea()));
            if (score != null) {
                json.append(",\"SAM score\":").append(number(score));
            }
            json.append("}}}");
        }
        return json.append("]}").toString();
    }

    private static Float scoreOf(List<ObjectInfo> objects, int label) {
        for (ObjectInfo info : objects) {
            if (info.getLabel() == label) {
                return info.getScore();
            }
        }
        return null;
    }

    private static void appendPolygon(StringBuilder json, MaskPolygon polygon, PixelTransform transform) {
        json.append('[');
        appendRing(json, polygon.exterior(), transform);
        for (int[] hole : polygon.holes()) {
            json.append(',');
            appendRing(json, hole, transform);
        }
        json.append(']');
    }

    private static void appendRing(StringBuilder json, int[] ring, PixelTransform transform) {
        json.append('[');
        int n = ring.length / 2;
        for (int i = 0; i <= n; i++) { // repeat the first vertex to close the ring
            int k = i % n;
            if (i > 0) {
                json.append(',');
            }
            json.append('[').append(number(transform.toImageX(ring[2 * k]))).append(',')
                    .append(number(transform.toImageY(ring[2 * k + 1]))).append(']');
        }
        json.append(']');
    }

    private static String number(double value) {
        if (Double.isNaN(value) || Double.isInfinite(value)) {
            return "null";
        }
        if (value == Math.rint(value) && Math.abs(value) < 1e15) {
            return Long.toString((long) value);
        }
        return Double.toString(value); // shortest exact representation, valid JSON
    }
}
