using TlsScope.Keys.Layout;

namespace TlsScope.Keys.Resolution;

/// <summary>Calibrates one shared library (normally in a helper process).</summary>
public interface ILayoutCalibrator
{
    /// <exception cref="TlsScope.Keys.Calibration.CalibrationException">One line saying why.</exception>
    KeyLayout Calibrate(string libraryPath);
}
