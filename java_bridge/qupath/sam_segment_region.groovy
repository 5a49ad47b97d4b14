/**
 * SAMBridge for QuPath: segment everything (AIS/AMG) in a region - the selected
 * annotation's bounds, or the current field of view when nothing is selected.
 * Creates detections (or annotations) with "SAM score"; coordinates are mapped
 * back with image = offset + downsample * region, correct at any downsample.
 * Needs build/lib/*.jar and build/sambridge-qupath.jar in QuPath's extensions folder and the server set
 * by sam_configure.groovy (or $SAMBRIDGE_ADDRESS). QuPath 0.4 / 0.5 / 0.6; Groovy 2.4 or later.
 */
import org.sambridge.client.*
import org.sambridge.qupath.BufferedImages
import org.sambridge.qupath.ConnectionSettings
import org.sambridge.qupath.ConsoleProgress
import org.sambridge.qupath.LabelFeatures
import qupath.lib.gui.prefs.PathPrefs
import org.sambridge.v1.AutoMethod
import org.locationtech.jts.geom.Geometry
import qupath.lib.io.GsonTools
import qupath.lib.objects.PathObjects
import qupath.lib.regions.ImagePlane
import qupath.lib.roi.GeometryTools
import qupath.lib.regions.RegionRequest

// ---- settings (the server: sam_configure.groovy once, or $SAMBRIDGE_ADDRESS / $SAMBRIDGE_TOKEN) ----
def settings = ConnectionSettings.resolve(sambridgePrefs(), System.getenv(), new File(System.getProperty("user.home")))
boolean USE_TLS = false
double TIMEOUT_S = 60
double DOWNSAMPLE = 0            // 0 = auto (fit MAX_SIDE)
int MAX_SIDE = 2048
int CHANNEL = 0
AutoMethod METHOD = AutoMethod.AUTO_METHOD_UNSPECIFIED   // AIS if the model has a decoder, else AMG
boolean AS_DETECTIONS = true
// ------------------

def server = getCurrentImageData().getServer()
def selected = getSelectedObject()
double x, y, w, h
ImagePlane plane
if (selected != null && selected.getROI() != null && selected.getROI().isArea()) {
    def roi = selected.getROI()
    (x, y, w, h) = [roi.getBoundsX(), roi.getBoundsY(), roi.getBoundsWidth(), roi.getBoundsHeight()]
    plane = roi.getImagePlane()
} else {
    def viewer = getCurrentViewer()
    def shape = viewer.getDisplayedRegionShape().getBounds()
    x = Math.max(0, shape.x); y = Math.max(0, shape.y)
    w = Math.min(server.getWidth(), shape.x + shape.width) - x
    h = Math.min(server.getHeight(), shape.y + shape.height) - y
    plane = ImagePlane.getPlane(viewer.getZPosition(), viewer.getTPosition())
}
double ds = DOWNSAMPLE > 0 ? DOWNSAMPLE : Math.max(1.0, Math.max(w, h) / MAX_SIDE)
def request = RegionRequest.createInstance(server.getPath(), ds, (int) x, (int) y, (int) Math.ceil(w),
        (int) Math.ceil(h), plane.getZ(), plane.getT())
def transform = new PixelTransform(request.getX(), request.getY(), request.getDownsample())

PixelArray pixels = BufferedImages.toPixelArray(server.readRegion(request), CHANNEL)

def client = SamBridgeClient.connect(settings.address(), settings.token(), USE_TLS, TIMEOUT_S)
try {
    def imageId = client.upload(pixels).getImageId()
    def result = client.autoSegment(imageId, METHOD,
            new ConsoleProgress("SAMBridge"))
    def json = LabelFeatures.of(result, transform, AS_DETECTIONS)
    def created = toPathObjects(json, plane, AS_DETECTIONS)
    if (selected != null && AS_DETECTIONS) {
        selected.addChildObjects(created)
        fireHierarchyUpdate()
    } else {
        addObjects(created)
    }
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
