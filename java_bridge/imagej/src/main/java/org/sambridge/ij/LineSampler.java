package org.sambridge.ij;

import ij.process.FloatPolygon;
import java.awt.geom.Point2D;

/** Points evenly spaced by arc length along a (poly)line, both ends included. */
final class LineSampler {
    private LineSampler() {
    }

    /**
     * @param line the line's vertices
     * @param n how many points (at least 1; a single vertex gives one point)
     * @return the points
     */
    static Point2D.Double[] sample(FloatPolygon line, int n) {
        int m = line.npoints;
        if (m == 0) {
            return new Point2D.Double[0];
        }
        double[] cumulative = new double[m];
        for (int i = 1; i < m; i++) {
            cumulative[i] = cumulative[i - 1] + Math.hypot(line.xpoints[i] - line.xpoints[i - 1],
                    line.ypoints[i] - line.ypoints[i - 1]);
        }
        double length = cumulative[m - 1];
        if (length == 0 || n <= 1) {
            return new Point2D.Double[] {new Point2D.Double(line.xpoints[0], line.ypoints[0])};
        }
        Point2D.Double[] points = new Point2D.Double[n];
        int segment = 1;
        for (int k = 0; k < n; k++) {
            double at = length * k / (n - 1);
            while (segment < m - 1 && cumulative[segment] < at) {
                segment++;
            }
            double span = cumulative[segment] - cumulative[segment - 1];
            double f = span == 0 ? 0 : (at - cumulative[segment - 1]) / span;
            points[k] = new Point2D.Double(
                    line.xpoints[segment - 1] + f * (line.xpoints[segment] - line.xpoints[segment - 1]),
                    line.ypoints[segment - 1] + f * (line.ypoints[segment] - line.ypoints[segment - 1]));
        }
        return points;
    }
}
