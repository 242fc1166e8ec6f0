using TlsScope.Sources.Tls.Keys.Layout;


namespace TlsScope.Sources.Tls.Keys.Calibration;

/// <summary>
/// The body of <c>tlsscope __calibrate LIBSSL</c>: calibration loads an arbitrary library and
/// pokes at its memory, so it runs in a child process that may crash without harm. Prints the
/// layout as JSON on stdout; any failure is one line on stderr and exit code 1.
/// </summary>
public static class CalibrationHelper
{
    public const string Command = "__calibrate";

    public static int Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length != 1 || args[0].Length == 0)
        {
            Console.Error.WriteLine($"tlsscope: usage: tlsscope {Command} LIBSSL");
            return 2;
        }
        try
        {
            if (!File.Exists(args[0]))
            {
                throw new CalibrationException($"{args[0]}: file not found");
            }

            Console.Out.WriteLine(KeyLayoutJson.Write(LayoutCalibrator.Calibrate(Path.GetFullPath(args[0]))));
            return 0;
        }
        catch (Exception e) when (e is CalibrationException or IOException or BadImageFormatException or EntryPointNotFoundException)
        {
            Console.Error.WriteLine($"tlsscope: calibration of {args[0]} failed: {e.Message.Split('\n')[0]}");
            return 1;
        }
    }
}
