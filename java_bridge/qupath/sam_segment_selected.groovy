/**
 * SAMBridge for QuPath: segment from the selected annotations.
 *
 * Point annotations are positive prompts (name them "neg..." for background
 * points); rectangle annotations are boxes. One new object per prompt, with
 * the SAM score as measurement "SAM score". The region around the prompts is
 * read at DOWNSAMPLE (auto: fit MAX_SIDE pixels), sent to the server, and the
 * resulting outlines are mapped back with image = offset + downsample * region,
 * so coordinates are right at any downsample.
 *
 * Setup: put build/lib/*.jar (includes sambridge-client.jar) and build/sambridge-qupath.jar
 * into QuPath's extensions folder, run sam_configure.groovy once, then run this in the script editor.
 * QuPath 0.4 / 0.5 / 0.6 API.
 */
import org.locationtech.jts.geom.Geometry
import org.sambridge.client.*
import org.sambridge.qupath.BufferedImages
import org.sambridge.qupath.ConnectionSettings
import org.sambridge.qupath.ConsoleProgress
import org.sambridge.qupath.LabelFeatures
import qupath.lib.gui.prefs.PathPrefs
import qupath.lib.io.GsonTools
import qupath.lib.objects.PathObjects
import qupath.lib.regions.ImagePlane
import qupath.lib.regions.RegionRequest
import qupath.lib.roi.GeometryTools
import qupath.lib.roi.RectangleROI

// ---- settings (the server: sam_configure.groovy once, or $SAMBRIDGE_ADDRESS / $SAMBRIDGE_TOKEN) ----
def settings = ConnectionSettings.resolve(sambridgePrefs(), System.getenv(), new File(System.getProperty("user.home")))
boolean USE_TLS = false
double TIMEOUT_S = 60
double DOWNSAMPLE = 0      // 0 = auto
int MAX_SIDE = 1500        // auto downsample keeps the region at most this many pixels wide/high
double MARGIN = 64         // full-resolution pixels added around the prompts
int CHANNEL = 0            // channel for non-RGB images
boolean AS_DETECTIONS = false
// ------------------

def imageData = getCurrentImageData()
def server = imageData.getServer()
def prompts = getSelectedObjects().findAll { it.getROI() != null }
if (prompts.isEmpty()) {
    Dialogs.showErrorMessage("SAMBridge", "Select point and/or rectangle annotations first.")
    return
}
def plane = prompts[0].getROI().getImagePlane()
double x0 = prompts.collect { it.getROI().getBoundsX() }.min() - MARGIN
double y0 = prompts.collect { it.getROI().getBoundsY() }.min() - MARGIN
double x1 = prompts.collect { it.getROI().getBoundsX() + it.getROI().getBoundsWidth() }.max() + MARGIN
double y1 = prompts.collect { it.getROI().getBoundsY() + it.getROI().getBoundsHeight() }.max() + MARGIN
x0 = Math.max(0, x0); y0 = Math.max(0, y0)
x1 = Math.min(server.getWidth(), x1); y1 = Math.min(server.getHeight(), y1)
double ds = DOWNSAMPLE > 0 ? DOWNSAMPLE : Math.max(1.0, Math.max(x1 - x0, y1 - y0) / MAX_SIDE)
def request = RegionRequest.createInstance(server.getPath(), ds,
        (int) x0, (int) y0, (int) Math.ceil(x1 - x0), (int) Math.ceil(y1 - y0), plane.getZ(), plane.getT())
def transform = new PixelTransform(request.getX(), request.getY(), request.getDownsample())

def positives = [], negatives = [], boxes = []
for (def obj in prompts) {
    def roi = obj.getROI()
    boolean negative = (obj.getName() ?: "").toLowerCase().startsWith("neg")
    if (roi.isPoint()) {
        for (def p in roi.getAllPoints()) {
            def pt = Prompts.point(transform.toRegionX(p.getX()), transform.toRegionY(p.getY()), !negative)
            (negative ? negatives : positives) << pt
        }
    } else if (roi instanceof RectangleROI || roi.isArea()) {
        boxes << Prompts.box(transform.toRegionX(roi.getBoundsX()), transform.toRegionY(roi.getBoundsY()),
                transform.toRegionX(roi.getBoundsX() + roi.getBoundsWidth()),
                transform.toRegionY(roi.getBoundsY() + roi.getBoundsHeight()))
    }
}

PixelArray pixels = BufferedImages.toPixelArray(server.readRegion(request), CHANNEL)
def client = SamBridgeClient.connect(settings.address(), settings.token(), USE_TLS, TIMEOUT_S)
try {
    def imageId = client.upload(pixels).getImageId()
    def result = client.segmentObjects(imageId, 0, positives, boxes, negatives)
    def json = LabelFeatures.of(result, transform, AS_DETECTIONS)
    def created = toPathObjects(json, plane, AS_DETECTIONS)
    addObjects(created)
    println "SAMBridge: ${created.size()} objects (downsample ${ds})"
} finally {
    client.close()
}

/** GeoJSON features (from the client's GeoJson) -> QuPath objects with measurements. */
List toPathObjects(String featureCollection, ImagePlane plane, boolean detections) {
    def gson = GsonTools.getInstance()
    def features = gson.fromJson(featureCollection, com.google.gson.JsonObject).getAsJsonArray("features")
    def objects = []
    for (def f in features) {
        def feature = f.getAsJsonObject()
        Geometry geometry = gson.fromJson(feature.get("geometry"), Geometry)
        def roi = GeometryTools.geometryToROI(geometry, plane)
        def obj = detections ? PathObjects.createDetectionObject(roi) : PathObjects.createAnnotationObject(roi)
        def props = feature.getAsJsonObject("properties")
        obj.setName(props.get("name").getAsString())
        def measurements = props.getAsJsonObject("measurements")
        for (def key in ["SAM score", "label"]) {
            if (measurements.has(key)) {
                obj.getMeasurementList().put(key, measurements.get(key).getAsDouble())
            }
        }
        objects << obj
    }
    return objects
}

/** QuPath's SAMBridge preferences (set by sam_configure.groovy). */
Map sambridgePrefs() {
    def prefs = [:]
    for (String key in [ConnectionSettings.ADDRESS_PREF, ConnectionSettings.TOKEN_PREF, ConnectionSettings.TOKEN_FILE_PREF]) {
        prefs[key] = PathPrefs.createPersistentPreference(key, "").get()
    }
    return prefs
}
