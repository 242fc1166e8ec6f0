namespace TlsScope.Sources.Tls.Keys.Calibration;

/// <summary>Calibration failed; the message is one line for the user.</summary>
public sealed class CalibrationException(string message) : Exception(message);
