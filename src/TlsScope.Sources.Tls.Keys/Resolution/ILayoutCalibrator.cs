using TlsScope.Sources.Tls.Keys.Layout;


namespace TlsScope.Sources.Tls.Keys.Resolution;

/// <summary>Calibrates one shared library (normally in a helper process).</summary>
public interface ILayoutCalibrator
{
    /// <exception cref="TlsScope.Sources.Tls.Keys.Calibration.CalibrationException">One line saying why.</exception>
    KeyLayout Calibrate(string libraryPath);
}
