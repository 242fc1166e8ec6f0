using System.CommandLine;
using TlsScope.Cli;
using TlsScope.Flows;
using TlsScope.Engine;
using TlsScope.Engine.Sources;
using TlsScope.Engine.Targets;
using TlsScope.Sources.Tls;

namespace TlsScope.Tests.Cli;

/// <summary>The parsing layer of the command line: options to CaptureOptions, and the exact
/// one-line messages for values the parser accepts but the tool does not.</summary>
public sealed class CliParsingTests
{
    private static (CliOptions Cli, ParseResult Result) Parse(params string[] args)
    {
        var cli = new CliOptions();
        return (cli, cli.Build().Parse(args));
    }

    private static string? Validate(CliOptions cli, ParseResult r) => cli.Validate(r, r.Tokens.Select(t => t.Value).ToList());

    private static (CliOptions Cli, ParseResult Result) ParseOk(params string[] args)
    {
        var (cli, r) = Parse(args);
        Assert.True(r.Errors.Count == 0, $"parse errors for [{string.Join(' ', args)}]: {string.Join("; ", r.Errors.Select(e => e.Message))}");
        return (cli, r);
    }

    [Fact]
    public void EveryOption_MapsIntoTheTargetTheSourcesAndTheRun()
    {
        var (cli, r) = ParseOk(
            "--pid", "1234", "--uid", "1000", "--comm", "curl",
            "--libssl", "/opt/a/libssl.so.3", "--libssl", "/usr/bin/node", "--libssl", "/opt/b/libssl.so.1.1",
            "--max-payload", "4096", "--buffer-size", "64",
            "--format", "json", "-o", "/tmp/out.txt", "--json", "/tmp/out.ndjson", "--duration", "2.5", "-v");

        Assert.Null(Validate(cli, r));
        var target = TargetBuilder.From(cli, r);
        Assert.Equal(TargetScope.Processes, target.Scope);
        Assert.Equal([1234], target.Pids);
        Assert.Equal(1234, target.SinglePid);
        Assert.Equal(1000u, target.Uid);
        Assert.Equal("curl", target.Comm);
        var tls = cli.Sources.OfType<TlsDefinition>().Single();
        Assert.Equal(["/opt/a/libssl.so.3", "/usr/bin/node", "/opt/b/libssl.so.1.1"], r.GetValue(tls.Libssl)!);
        Assert.Equal(4096u, r.GetValue(tls.MaxPayload));
        Assert.Equal(64, r.GetValue(cli.BufferSize));
        Assert.True(r.GetValue(cli.Verbose));
        Assert.Equal("json", r.GetValue(cli.Format));
        Assert.Equal("/tmp/out.txt", r.GetValue(cli.Output));
        Assert.Equal("/tmp/out.ndjson", r.GetValue(cli.Json));
        Assert.Equal(2.5, r.GetValue(cli.Duration));
        Assert.Equal("pid 1234, uid 1000, comm curl", target.Describe());
    }

    [Theory]
    [InlineData("--binary")]
    [InlineData("--libssl")]
    public void TlsBinaryRefusalsNameTheOptionAsTyped(string typed)
    {
        var (cli, r) = ParseOk("--shell", typed, "/nonexistent/libssl.so");
        Assert.Equal($"{typed} is a TLS option: add --tls", Validate(cli, r));

        (cli, r) = ParseOk(typed, "/nonexistent/libssl.so");
        var tls = cli.Sources.OfType<TlsDefinition>().Single();
        var error = Assert.Throws<CaptureException>(() => tls.Create(r, new SourceDemand(new Target(), false, false, true)));
        Assert.Equal($"{typed} /nonexistent/libssl.so: no such file", error.Message);
    }

    [Fact]
    public void NoOptions_GiveTheDefaults()
    {
        var (cli, r) = ParseOk();

        Assert.Null(Validate(cli, r));
        var target = TargetBuilder.From(cli, r);
        Assert.Equal(Target.Everything, target);
        Assert.False(target.IsRestricted);
        var tls = cli.Sources.OfType<TlsDefinition>().Single();
        Assert.Empty(r.GetValue(tls.Libssl) ?? []);
        Assert.Equal(0u, r.GetValue(tls.MaxPayload));
        Assert.Equal(32, r.GetValue(cli.BufferSize));
        Assert.False(r.GetValue(cli.Verbose));
        Assert.Equal("text", r.GetValue(cli.Format));
        Assert.Null(r.GetValue(cli.Output));
        Assert.Null(r.GetValue(cli.Duration));
        Assert.Equal(new SourceDemand(target, Keys: false, Packets: false), cli.Demand(r, target));
    }

    [Fact]
    public void KeyAndPacketOutputsAskTheSourcesForThem()
    {
        var (cli, r) = ParseOk("--keylog", "/tmp/k", "--pcapng", "/tmp/p");

        Assert.Equal(new SourceDemand(Target.Everything, Keys: true, Packets: true), cli.Demand(r, Target.Everything));
    }

    [Theory]
    [InlineData("unexpected argument 'curl': a command to launch goes after --", "curl")]
    [InlineData("--: give the command to launch after it", "--")]
    [InlineData("--pid and -- CMD: choose one (a process, a cgroup, a container or a command)", "--pid", "1", "--", "curl")]
    [InlineData("--cgroup and --container: choose one (a process, a cgroup, a container or a command)", "--cgroup", "/x", "--container", "ab")]
    [InlineData("--user runs the launched command: give it after --", "--user", "nobody")]
    [InlineData("--container XYZ: not a container id (lower-case hex digits)", "--container", "XYZ")]
    public void TargetsAreOneOfEach(string message, params string[] args)
    {
        var (cli, r) = Parse(args);

        Assert.Equal(message, cli.Validate(r, args));
    }

    [Fact]
    public void ACommandAfterTheDashesIsKeptWhole()
    {
        string[] args = ["--comm", "x", "--", "curl", "-k", "-o", "/dev/null", "https://x/"];
        var (cli, r) = ParseOk(args);

        Assert.Null(cli.Validate(r, args));
        Assert.Equal(["curl", "-k", "-o", "/dev/null", "https://x/"], r.GetValue(cli.Command)!);
    }

    [Fact]
    public void LongVerboseAndOutput_AreAccepted()
    {
        var (cli, r) = ParseOk("--verbose", "--output", "x.txt", "--format", "text");

        Assert.Null(Validate(cli, r));
        Assert.True(r.GetValue(cli.Verbose));
        Assert.Equal("x.txt", r.GetValue(cli.Output));
    }

    [Theory]
    [InlineData("--buffer-size", "1")]
    [InlineData("--buffer-size", "1024")]
    [InlineData("--duration", "0.25")]
    [InlineData("--pid", "1")]
    [InlineData("--comm", "a-fifteen-bytes")]
    [InlineData("--max-payload", "0")]
    [InlineData("--uid", "0")]
    public void GoodValues_Validate(string option, string value)
    {
        var (cli, r) = ParseOk(option, value);

        Assert.Null(Validate(cli, r));
    }

    [Theory]
    [InlineData("--format xml: must be text or json", "--format", "xml")]
    [InlineData("--pid 0: must be a positive process id", "--pid", "0")]
    [InlineData("--pid -5: must be a positive process id", "--pid", "-5")]
    [InlineData("--duration 0: must be a positive number of seconds", "--duration", "0")]
    [InlineData("--duration -1.5: must be a positive number of seconds", "--duration", "-1.5")]
    [InlineData("--buffer-size 0: must be between 1 and 1024 (MiB)", "--buffer-size", "0")]
    [InlineData("--buffer-size 2000: must be between 1 and 1024 (MiB)", "--buffer-size", "2000")]
    [InlineData("--buffer-size 1025: must be between 1 and 1024 (MiB)", "--buffer-size", "1025")]
    [InlineData("--comm: must not be empty", "--comm", "")]
    [InlineData("--interface selects where --pcapng captures packets: give --pcapng FILE too", "-i", "lo")]
    [InlineData("--filter selects the packets of --pcapng: give --pcapng FILE too", "--filter", "tcp port 443")]
    [InlineData("--har -: give a file (HAR is completed in place after each exchange)", "--har", "-")]
    [InlineData("--har /dev/stdout: give a file (HAR is completed in place after each exchange)", "--har", "/dev/stdout")]
    public void BadValues_GiveTheExactOneLineMessage(string message, string option, string value)
    {
        var (cli, r) = ParseOk(option, value);

        Assert.Equal(message, Validate(cli, r));
    }

    [Fact]
    public void FormatIsCheckedFirst()
    {
        var (cli, r) = ParseOk("--pid", "0", "--format", "xml", "--buffer-size", "0");

        Assert.Equal("--format xml: must be text or json", Validate(cli, r));
    }

    [Theory]
    [InlineData("--pid", "abc")]
    [InlineData("--uid", "-1")]
    [InlineData("--max-payload", "lots")]
    [InlineData("--buffer-size", "1.5")]
    [InlineData("--duration", "soon")]
    public void UnparsableValues_AreParseErrors(string option, string value)
    {
        var (_, r) = Parse(option, value);

        Assert.NotEmpty(r.Errors);
    }

    [Fact]
    public void UnknownOption_IsAParseError()
    {
        var (cli, r) = Parse("--no-such-option");

        Assert.Equal("--no-such-option: unknown option (see --help)", Validate(cli, r));
    }

    [Fact]
    public void MissingValue_IsAParseError()
    {
        var (_, r) = Parse("--pid");

        Assert.NotEmpty(r.Errors);
    }

    [Theory]
    [InlineData("--body-limit -1: must not be negative", "--body-limit", "-1")]
    [InlineData("--har needs HTTP parsing: it cannot be combined with --raw", "--raw", "--har", "x.har")]
    [InlineData("--redact needs HTTP parsing to find headers: it cannot be combined with --raw", "--raw", "--redact")]
    [InlineData("--redact needs HTTP parsing to find headers: it cannot be combined with --raw", "--raw", "--redact-header", "x-key")]
    [InlineData("--redact-header 'bad name': not a header name", "--redact-header", "bad name")]
    [InlineData("--redact-header '': not a header name", "--redact-header", "")]
    public void BadHttpOptions_GiveTheExactOneLineMessage(string message, params string[] args)
    {
        var (cli, r) = ParseOk(args);

        Assert.Equal(message, Validate(cli, r));
    }

    [Fact]
    public void HttpParsingIsOnByDefault_AndRawTurnsItOff()
    {
        var (cli, r) = ParseOk();
        var flows = cli.ToFlows(r);
        Assert.NotNull(flows);
        Assert.Null(flows.Redactor);
        Assert.Equal(4096, r.GetValue(cli.BodyLimit));
        Assert.Equal(FlowOptions.DefaultMaxBodyBytes, flows.MaxBodyBytes);

        (cli, r) = ParseOk("--raw");
        Assert.Null(Validate(cli, r));
        Assert.Null(cli.ToFlows(r));
    }

    [Fact]
    public void RedactHeader_ImpliesRedact_AndAddsToTheDefaultNames()
    {
        var (cli, r) = ParseOk("--redact-header", "X-Api-Key", "--redact-header", "x-other");
        Assert.Null(Validate(cli, r));
        var redactor = cli.ToFlows(r)!.Redactor!;
        foreach (var name in new[] { "authorization", "Proxy-Authorization", "COOKIE", "set-cookie", "x-api-key", "X-Other" })
        {
            Assert.True(redactor.ShouldRedact(name), name);
        }

        Assert.False(redactor.ShouldRedact("content-type"));
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleRedirection
{
    /// <summary>Tests that swap Console.Error run alone, so no other test writes into their capture.</summary>
    public const string Name = "Cli: Console.Error redirected";
}

/// <summary>Program.Main for inputs it must refuse before capturing anything.</summary>
[Collection(ConsoleRedirection.Name)]
public sealed class CliMainTests
{
    private static (int Exit, string[] Lines) RunMain(params string[] args)
    {
        var original = Console.Error;
        var error = new StringWriter();
        Console.SetError(error);
        int exit;
        try
        {
            exit = Program.Main(args);
        }
        finally
        {
            Console.SetError(original);
        }
        return (exit, error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void BadFormat_ExitsWithOne_AndOneLine()
    {
        var (exit, lines) = RunMain("--format", "xml");

        Assert.Equal(Program.ExitError, exit);
        Assert.Equal(1, exit);
        var line = Assert.Single(lines);
        Assert.StartsWith("tlsscope: ", line);
        Assert.Equal("tlsscope: --format xml: must be text or json", line);
    }

    [Fact]
    public void UnparsableValue_ExitsWithOne_AndOneLine()
    {
        var (exit, lines) = RunMain("--pid", "abc");

        Assert.Equal(1, exit);
        var line = Assert.Single(lines);
        Assert.StartsWith("tlsscope: ", line);
        Assert.Equal("tlsscope: --pid abc: not a valid value (see --help)", line);
    }

    [Fact]
    public void UnknownOption_ExitsWithOne_AndOneLine()
    {
        var (exit, lines) = RunMain("--no-such-option");

        Assert.Equal(1, exit);
        var line = Assert.Single(lines);
        Assert.StartsWith("tlsscope: ", line);
        Assert.Contains("--no-such-option", line);
    }

    [Fact]
    public void HarToStdout_IsRefusedInOneLineBeforeAnyCapture()
    {
        var (exit, lines) = RunMain("--har", "-", "--duration", "1");

        Assert.Equal(1, exit);
        Assert.Equal("tlsscope: --har -: give a file (HAR is completed in place after each exchange)", Assert.Single(lines));
    }
}
