// The QuPath scripts on Debian's Groovy 2.4 (QuPath itself cannot be installed here): every
// sam_*.groovy must parse (syntax, up to the CONVERSION phase: QuPath's classes are not
// resolved), hold no hard-coded server address and no closure coerced to ProgressListener; the
// helpers they call from sambridge-qupath.jar (settings, progress, label -> GeoJSON) are run.
//   groovy -cp "$(ls java_bridge/build/lib/*.jar | tr '\n' :)java_bridge/build/sambridge-qupath.jar" java_bridge/qupath/test_scripts.groovy DIR
import groovy.json.JsonSlurper
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.Phases
import org.sambridge.client.*
import org.sambridge.qupath.ConnectionSettings
import org.sambridge.qupath.ConsoleProgress
import org.sambridge.qupath.LabelFeatures
import org.sambridge.v1.ObjectInfo

def dir = new File(args.length > 0 ? args[0] : new File(getClass().protectionDomain.codeSource.location.path).parent)
def scripts = dir.listFiles().findAll { it.name.startsWith("sam_") && it.name.endsWith(".groovy") }
assert scripts.size() >= 3 : "scripts in ${dir}: ${scripts}"
for (File script in scripts) {
    def unit = new CompilationUnit()
    unit.addSource(script)
    unit.compile(Phases.CONVERSION)
    def text = script.text
    assert !text.contains("localhost:50051") : "${script.name} hard-codes the server"
    assert !(text =~ /as\s+ProgressListener/) : "${script.name} coerces a closure to ProgressListener"
}
println "QuPath scripts parse on Groovy ${GroovySystem.version}: ${scripts*.name.sort()}"

def home = File.createTempDir()
def tokenFile = new File(home, "t"); tokenFile.text = "from-file\n"
def s = ConnectionSettings.resolve(["sambridge.address": "gpu:1", "sambridge.token_file": tokenFile.path],
        ["SAMBRIDGE_TOKEN": "env"], home)
assert s.address() == "gpu:1" && s.token() == "from-file"
s = ConnectionSettings.resolve([:], ["SAMBRIDGE_ADDRESS": "box:2", "SAMBRIDGE_TOKEN": "env"], home)
assert s.address() == "box:2" && s.token() == "env"
try {
    ConnectionSettings.resolve([:], [:], home)
    assert false : "no address accepted"
} catch (IllegalStateException e) {
    assert e.message.contains("sam_configure.groovy")
}
def buffer = new ByteArrayOutputStream()
ProgressListener progress = new ConsoleProgress("SAMBridge", new PrintStream(buffer, true))
progress.onProgress("decoding", 2, 15, "")
assert buffer.toString().trim() == "SAMBridge decoding 2/15"
int[] labels = new int[6 * 6]
(1..3).each { y -> (1..3).each { x -> labels[y * 6 + x] = 4 } }
def result = new LabelResult(new LabelImage(labels, 1, 6, 6, "yx"),
        [ObjectInfo.newBuilder().setLabel(4).setScore(0.5f).build()], null)
def json = new JsonSlurper().parseText(LabelFeatures.of(result, new PixelTransform(100, 200, 2), true))
assert json.features.size() == 1
assert json.features[0].properties.measurements["SAM score"] == 0.5
println "QuPath helpers OK on Groovy ${GroovySystem.version}: settings from preferences/environment, progress, labels -> GeoJSON"
