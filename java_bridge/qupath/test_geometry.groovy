// Runs the QuPath-side geometry (GeoJSON + downsample/offset transform) and region
// conversion with Debian's groovy against the jars a QuPath user installs (client-core,
// qupath, lib/; no ImageJ), no QuPath needed (build.sh runs it):
//   groovy -cp "$(cat java_bridge/build/classpath.txt)" java_bridge/qupath/test_geometry.groovy
import groovy.json.JsonSlurper
import java.awt.image.BufferedImage
import org.sambridge.client.*
import org.sambridge.qupath.BufferedImages

boolean[][] mask = new boolean[10][10]
(1..8).each { y -> (1..8).each { x -> mask[y][x] = !(x in 3..6 && y in 3..6) } }   // square with hole
mask[9][9] = true                                                                  // second part (touches at a corner)
def transform = new PixelTransform(1000, 2000, 4)       // region read at downsample 4 from (1000, 2000)
def geometry = new JsonSlurper().parseText(GeoJson.maskGeometry(mask, transform))
assert geometry.type == "MultiPolygon"
assert geometry.coordinates.size() == 2
def ringArea = { ring -> (0..<ring.size() - 1).sum { i -> ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1] } / 2 }
def area = geometry.coordinates.sum { poly -> poly.sum { ring -> ringArea(ring) } }
assert area == (48 + 1) * 16
assert geometry.coordinates.any { poly -> poly.size() == 2 }                        // the hole
assert geometry.coordinates.flatten().collate(2).contains([1004, 2004])             // corner (1,1)
println "QuPath geometry OK: MultiPolygon, 2 parts, 1 hole, area ${area} (full-resolution px)"

def region = new BufferedImage(3, 2, BufferedImage.TYPE_USHORT_GRAY)                // as server.readRegion returns
region.getRaster().setSamples(0, 0, 3, 2, 0, [0, 1, 2, 300, 65535, 7] as int[])
assert BufferedImages.toPixelArray(region, 0).contentId() == "sha1:2acd2ce82128dc854bb37abf2490e60cec9a9cdc"
println "QuPath region OK: 16-bit region -> uint16 array with the Python content id"
