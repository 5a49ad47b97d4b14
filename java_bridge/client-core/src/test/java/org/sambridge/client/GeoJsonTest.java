package org.sambridge.client;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.Collections;
import org.junit.Test;
import org.sambridge.v1.ObjectInfo;

/** GeoJSON for QuPath: holes, all parts, orientation and the downsample + offset transform. */
public class GeoJsonTest {
    private static double ringArea(JsonArray ring) {
        double sum = 0;
        for (int i = 0; i + 1 < ring.size(); i++) {
            JsonArray a = ring.get(i).getAsJsonArray();
            JsonArray b = ring.get(i + 1).getAsJsonArray();
            sum += a.get(0).getAsDouble() * b.get(1).getAsDouble() - b.get(0).getAsDouble() * a.get(1).getAsDouble();
        }
        return sum / 2;
    }

    private static double polygonArea(JsonArray rings) {
        double area = 0;
        for (int i = 0; i < rings.size(); i++) {
            area += ringArea(rings.get(i).getAsJsonArray()); // holes are negative
        }
        return area;
    }

    @Test
    public void multiPolygonWithHoleAtDownsampleAndOffset() {
        PixelTransform t = new PixelTransform(100, 200, 2);
        JsonObject geometry = JsonParser.parseString(GeoJson.maskGeometry(Fixtures.twoPartsWithHole(), t))
                .getAsJsonObject();
        assertEquals("MultiPolygon", geometry.get("type").getAsString());
        JsonArray polygons = geometry.getAsJsonArray("coordinates");
        assertEquals(2, polygons.size());
        double total = 0;
        int holes = 0;
        for (int i = 0; i < polygons.size(); i++) {
            JsonArray rings = polygons.get(i).getAsJsonArray();
            holes += rings.size() - 1;
            JsonArray exterior = rings.get(0).getAsJsonArray();
            assertTrue("exterior counter-clockwise (RFC 7946)", ringArea(exterior) > 0);
            assertEquals("ring closed", exterior.get(0), exterior.get(exterior.size() - 1));
            for (int k = 1; k < rings.size(); k++) {
                assertTrue("hole clockwise", ringArea(rings.get(k).getAsJsonArray()) < 0);
            }
            total += polygonArea(rings);
        }
        assertEquals(1, holes);
        assertEquals((Fixtures.HOLED_AREA + Fixtures.SMALL_AREA) * 4.0, total, 1e-9);
        String json = geometry.toString();
        assertTrue("outer corner (1,1) -> (102,202)", json.contains("[102,202]"));
        assertTrue("hole corner (3,3) -> (106,206)", json.contains("[106,206]"));
        assertTrue("far corner (15,4) -> (130,208)", json.contains("[130,208]"));
    }

    @Test
    public void fractionalTransform() {
        boolean[][] m = {{true}};
        PixelTransform t = new PixelTransform(10.25, 0, 1.5);
        JsonObject geometry = JsonParser.parseString(GeoJson.maskGeometry(m, t)).getAsJsonObject();
        assertEquals("Polygon", geometry.get("type").getAsString());
        JsonArray ring = geometry.getAsJsonArray("coordinates").get(0).getAsJsonArray();
        assertEquals(2.25, ringArea(ring), 1e-12);
        assertTrue(geometry.toString(), geometry.toString().contains("[11.75,1.5]"));
        assertEquals(11.75, t.toImageX(1), 0);
        assertEquals(1, t.toRegionX(11.75), 0);
    }

    @Test
    public void featureCollectionWithScores() {
        ObjectInfo one = ObjectInfo.newBuilder().setLabel(1).setScore(0.875f).build();
        String json = GeoJson.featureCollection(Fixtures.labels(), 0, Collections.singletonList(one),
                PixelTransform.IDENTITY, "detection");
        JsonObject collection = JsonParser.parseString(json).getAsJsonObject();
        JsonArray features = collection.getAsJsonArray("features");
        assertEquals(2, features.size());
        JsonObject first = features.get(0).getAsJsonObject();
        assertEquals("MultiPolygon", first.getAsJsonObject("geometry").get("type").getAsString());
        JsonObject props = first.getAsJsonObject("properties");
        assertEquals("detection", props.get("objectType").getAsString());
        assertEquals(0.875, props.getAsJsonObject("measurements").get("SAM score").getAsDouble(), 1e-6);
        assertEquals(54, props.getAsJsonObject("measurements").get("area_px").getAsDouble(), 0);
        JsonObject second = features.get(1).getAsJsonObject();
        assertEquals("Polygon", second.getAsJsonObject("geometry").get("type").getAsString());
        assertEquals(9, polygonArea(second.getAsJsonObject("geometry").getAsJsonArray("coordinates")), 0);
    }
}
