using System.IO.Compression;
using System.Text;
using TlsScope.Flows;
using TlsScope.Tests.Http2;
using TlsScope.Engine.Model;

namespace TlsScope.Tests.Flows;

/// <summary>
/// Seeded, bounded fuzzing of <see cref="HttpFlowTracker"/>: valid conversations give the same
/// exchanges however they are cut into chunks; damaged ones (truncated, gaps, reordered, mutated,
/// random) never throw or hang, and what passes through as chunks is always a suffix of what was
/// fed, in order, at the right offsets.
/// </summary>
public sealed class FlowFuzzTests
{
    private static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(20);

    public enum Kind
    {
        Http1,
        Http2,
    }

    // ---------------------------------------------------------------- splitting

    [Theory]
    [InlineData(Kind.Http1, 1)]
    [InlineData(Kind.Http2, 2)]
    public void AnySplitGivesTheSameExchangesAsTheUnsplitFeed(Kind kind, int seed)
    {
        RunCases(seed, 120, rng =>
        {
            var script = Build(kind, rng, out int exchanges);
            var baseline = Run(script.Select(s => new Piece(s.Direction, s.Data)).ToList());
            Assert.Equal(exchanges, baseline.Http.Exchanges.Count);
            Assert.Equal(Enumerable.Range(1, exchanges).Select(i => (long)i), baseline.Http.Exchanges.Select(e => e.Sequence).Order());
            Assert.All(baseline.Http.Exchanges, e => Assert.True(e.Request!.Complete && e.Response!.Complete, Describe.Exchange(e)));
            Assert.Equal(RawBytes(script, Direction.Write), baseline.Raw.BytesOf(7, Direction.Write));
            Assert.Equal(RawBytes(script, Direction.Read), baseline.Raw.BytesOf(7, Direction.Read));
            if (kind == Kind.Http1)
            {
                // Every byte of an HTTP/1 conversation belongs to a message or passed through.
                foreach (var d in new[] { Direction.Write, Direction.Read })
                {
                    long fed = script.Where(s => s.Direction == d).Sum(s => (long)s.Data.Length) - RawBytes(script, d).Length;
                    long used = baseline.Http.Exchanges.Select(e => d == Direction.Write ? e.Request : e.Response).Sum(m => m!.WireBytes);
                    Assert.Equal(fed, used);
                }
            }

            var expected = baseline.Http.Exchanges.Select(e => Describe.Exchange(e)).ToList();
            for (int round = 0; round < 3; round++)
            {
                var split = Run(Split(Merge(script, rng), rng, maxPiece: round == 0 ? 3 : 64));
                Assert.Equal(expected, split.Http.Exchanges.Select(e => Describe.Exchange(e)));
                Assert.Equal(RawBytes(script, Direction.Write), split.Raw.BytesOf(7, Direction.Write));
                Assert.Equal(RawBytes(script, Direction.Read), split.Raw.BytesOf(7, Direction.Read));
                CheckInvariants(split);
            }
        });
    }

    [Fact]
    public void InterleavedConnectionsDoNotDisturbEachOther()
    {
        RunCases(3, 60, rng =>
        {
            var one = Build(Kind.Http1, rng, out _);
            var two = Build(Kind.Http2, rng, out _);
            var alone1 = Run(Split(one, rng, 40)).Http.Exchanges.Select(e => Describe.Exchange(e)).ToList();
            var alone2 = Run(Split(two, rng, 40)).Http.Exchanges.Select(e => Describe.Exchange(e)).ToList();
            byte[] noise = new byte[rng.Next(1, 200)];
            rng.NextBytes(noise);
            noise[0] = 0x17;

            var pieces = new List<Piece>();
            var queues = new[]
            {
                new Queue<Piece>(Split(one, rng, 40).Select(p => p with { Connection = 1 })),
                new Queue<Piece>(Split(two, rng, 40).Select(p => p with { Connection = 2 })),
                new Queue<Piece>(Split([new Piece(Direction.Write, noise)], rng, 10).Select(p => p with { Connection = 3 })),
            };
            while (queues.Any(q => q.Count > 0))
            {
                var q = queues[rng.Next(queues.Length)];
                if (q.Count > 0)
                {
                    pieces.Add(q.Dequeue());
                }
            }

            var run = Run(pieces);
            Assert.Equal(alone1, run.Http.Exchanges.Where(e => e.Flow.Connection == 1).Select(e => Describe.Exchange(e)));
            Assert.Equal(alone2, run.Http.Exchanges.Where(e => e.Flow.Connection == 2).Select(e => Describe.Exchange(e)));
            Assert.Equal(noise, run.Raw.BytesOf(3, Direction.Write));
            Assert.Equal(2, run.Tracker.HttpConnections);
            CheckInvariants(run);
        });
    }

    // ---------------------------------------------------------------- damage

    [Theory]
    [InlineData(Kind.Http1, 11)]
    [InlineData(Kind.Http2, 12)]
    public void RandomTruncationNeverThrowsAndKeepsTheExchangesBeforeTheCut(Kind kind, int seed)
    {
        int compared = 0;
        RunCases(seed, 150, rng =>
        {
            var pieces = Split(Build(kind, rng, out _), rng, 50);
            int total = pieces.Sum(p => p.Data.Length);
            int cut = rng.Next(total + 1);
            var kept = new List<Piece>();
            foreach (var p in pieces)
            {
                if (cut <= 0)
                {
                    break;
                }

                kept.Add(p.Data.Length <= cut ? p : p with { Data = p.Data[..cut] });
                cut -= p.Data.Length;
            }

            var run = Run(kept);
            CheckInvariants(run);
            // Exchanges wholly before the cut are found as in the whole feed.
            var whole = Run(pieces).Http.Exchanges.ToDictionary(e => e.Sequence, e => Describe.Exchange(e));
            foreach (var e in run.Http.Exchanges.Where(e => e.Request is { Complete: true } && e.Response is { Complete: true }))
            {
                Assert.Equal(whole[e.Sequence], Describe.Exchange(e));
                Interlocked.Increment(ref compared);
            }

            Assert.True(run.Http.Exchanges.Count <= whole.Count);
        });
        Assert.True(compared >= 50, $"only {compared} complete exchanges were compared across the cases");
    }

    [Theory]
    [InlineData(Kind.Http1, 21)]
    [InlineData(Kind.Http2, 22)]
    public void RandomGapsNeverThrowAndAreAllPassedThrough(Kind kind, int seed)
    {
        RunCases(seed, 150, rng =>
        {
            var pieces = Split(Build(kind, rng, out _), rng, 50);
            var damaged = new List<Piece>();
            foreach (var p in pieces)
            {
                int roll = rng.Next(10);
                if (roll == 0 && p.Data.Length > 1)
                {
                    // Lose the middle of the piece as a gap event.
                    int a = rng.Next(p.Data.Length);
                    int b = rng.Next(a, p.Data.Length + 1);
                    damaged.Add(p with { Data = p.Data[..a] });
                    damaged.Add(p with { Data = [], GapLength = b - a });
                    damaged.Add(p with { Data = p.Data[b..] });
                }
                else if (roll == 1 && p.Data.Length > 1)
                {
                    // Lose the tail of the piece to --max-payload: a truncated chunk, no gap event.
                    int keep = rng.Next(p.Data.Length);
                    damaged.Add(p with { Data = p.Data[..keep], Dropped = p.Data.Length - keep });
                }
                else if (roll == 2)
                {
                    damaged.Add(p with { Data = [], GapLength = rng.Next(1, 5000) });
                    damaged.Add(p);
                }
                else
                {
                    damaged.Add(p);
                }
            }

            var run = Run(damaged);
            CheckInvariants(run);
        });
    }

    [Theory]
    [InlineData(Kind.Http1, 31)]
    [InlineData(Kind.Http2, 32)]
    public void SwappedAdjacentChunksNeverThrow(Kind kind, int seed)
    {
        RunCases(seed, 150, rng =>
        {
            var pieces = Split(Build(kind, rng, out _), rng, 40);
            var run = new FuzzRun();
            // Offsets are fixed before the swap: the chunks arrive out of order, as after a reordering bug.
            var made = pieces.Select(p => run.Feeder(p.Connection).Make(p.Direction, p.Data)).ToList();
            for (int i = 0; i + 1 < made.Count; i++)
            {
                if (rng.Next(4) == 0)
                {
                    (made[i], made[i + 1]) = (made[i + 1], made[i]);
                    i++;
                }
            }

            foreach (var chunk in made)
            {
                run.Fed.Add(chunk);
                run.Tracker.OnData(chunk);
            }

            run.CloseAll();
            CheckInvariants(run);
        });
    }

    [Theory]
    [InlineData(Kind.Http1, 41)]
    [InlineData(Kind.Http2, 42)]
    public void RandomMutationsNeverThrow(Kind kind, int seed)
    {
        RunCases(seed, 200, rng =>
        {
            var pieces = Split(Build(kind, rng, out _), rng, 60);
            int mutations = rng.Next(1, 12);
            for (int m = 0; m < mutations; m++)
            {
                var p = pieces[rng.Next(pieces.Count)];
                if (p.Data.Length == 0)
                {
                    continue;
                }

                int at = rng.Next(p.Data.Length);
                p.Data[at] = rng.Next(3) switch
                {
                    0 => (byte)rng.Next(256),
                    1 => (byte)(p.Data[at] ^ (1 << rng.Next(8))),
                    _ => (byte)"\r\n :0f"[rng.Next(6)],
                };
            }

            CheckInvariants(Run(pieces));
        });
    }

    [Fact]
    public void RandomBytesNeverThrowAndPassThrough()
    {
        byte[][] starts =
        [
            "GET / HTTP/1.1\r\n"u8.ToArray(), "HTTP/1.1 200 OK\r\n"u8.ToArray(), "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray(),
            [0, 0, 6, 4, 0, 0, 0, 0, 0], [], "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"u8.ToArray(),
        ];
        RunCases(51, 300, rng =>
        {
            var pieces = new List<Piece>();
            int count = rng.Next(1, 30);
            for (int i = 0; i < count; i++)
            {
                var d = rng.Next(2) == 0 ? Direction.Write : Direction.Read;
                byte[] data = new byte[rng.Next(0, 300)];
                rng.NextBytes(data);
                if (i < 2 && rng.Next(2) == 0)
                {
                    data = [.. starts[rng.Next(starts.Length)], .. data];
                }

                pieces.Add(new Piece(d, data));
                if (rng.Next(15) == 0)
                {
                    pieces.Add(new Piece(d, [], GapLength: rng.Next(1, 100)));
                }
            }

            CheckInvariants(Run(pieces));
        });
    }

    // ---------------------------------------------------------------- scripts

    private static List<Piece> Build(Kind kind, Random rng, out int exchanges) =>
        kind == Kind.Http1 ? Http1Script(rng, out exchanges) : Http2Script(rng, out exchanges);

    /// <summary>A client-side HTTP/1.1 conversation: requests on Write, responses on Read, sometimes pipelined.</summary>
    private static List<Piece> Http1Script(Random rng, out int exchanges)
    {
        int n = rng.Next(1, 6);
        exchanges = n;
        var requests = new List<byte[]>();
        var responses = new List<byte[]>();
        string[] methods = ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"];
        for (int i = 0; i < n; i++)
        {
            string method = methods[rng.Next(methods.Length)];
            var req = new StringBuilder($"{method} /p{i}?q={rng.Next(1000)} HTTP/1.1\r\nHost: h{rng.Next(3)}.example\r\nX-I: {i}\r\n");
            byte[] reqBody = [];
            if (method is "POST" or "PUT")
            {
                reqBody = RandomText(rng, rng.Next(0, 400));
                if (rng.Next(2) == 0)
                {
                    req.Append("Content-Length: ").Append(reqBody.Length).Append("\r\n\r\n");
                    requests.Add([.. Latin1(req.ToString()), .. reqBody]);
                }
                else
                {
                    req.Append("Transfer-Encoding: chunked\r\n\r\n");
                    requests.Add([.. Latin1(req.ToString()), .. Chunked(reqBody, rng, trailer: false)]);
                }
            }
            else
            {
                requests.Add(Latin1(req.Append("\r\n").ToString()));
            }

            int[] statuses = [200, 200, 201, 204, 304, 404, 500];
            int status = statuses[rng.Next(statuses.Length)];
            var resp = new StringBuilder($"HTTP/1.1 {status} R{status}\r\nServer: s\r\n");
            byte[] body = status is 204 or 304 ? [] : RandomText(rng, rng.Next(0, 600));
            if (method == "HEAD" || status is 204 or 304)
            {
                if (method == "HEAD")
                {
                    resp.Append("Content-Length: ").Append(rng.Next(0, 100000)).Append("\r\n");
                }

                responses.Add(Latin1(resp.Append("\r\n").ToString()));
                continue;
            }

            switch (rng.Next(3))
            {
                case 0:
                    resp.Append("Content-Length: ").Append(body.Length).Append("\r\n\r\n");
                    responses.Add([.. Latin1(resp.ToString()), .. body]);
                    break;
                case 1:
                    resp.Append("Transfer-Encoding: chunked\r\n\r\n");
                    responses.Add([.. Latin1(resp.ToString()), .. Chunked(body, rng, trailer: rng.Next(2) == 0)]);
                    break;
                default:
                    byte[] gz = Gzip(body);
                    resp.Append("Content-Encoding: gzip\r\nContent-Length: ").Append(gz.Length).Append("\r\n\r\n");
                    responses.Add([.. Latin1(resp.ToString()), .. gz]);
                    break;
            }
        }

        // Requests go before their responses; sometimes several requests before the first response.
        var script = new List<Piece>();
        int r = 0, s = 0;
        while (s < n)
        {
            if (r < n && (r == s || rng.Next(3) == 0))
            {
                script.Add(new Piece(Direction.Write, requests[r++]));
            }
            else
            {
                script.Add(new Piece(Direction.Read, responses[s++]));
            }
        }

        if (rng.Next(3) == 0)
        {
            // The connection ends in a tunnel or an upgrade to a protocol shown raw: its bytes pass through.
            exchanges++;
            bool connect = rng.Next(2) == 0;
            script.Add(new Piece(Direction.Write, Latin1(connect
                ? "CONNECT inner.example:443 HTTP/1.1\r\nHost: inner.example:443\r\n\r\n"
                : "GET /up HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: custom/2\r\n\r\n")));
            byte[] tail = RandomBytes(rng, rng.Next(0, 50));
            script.Add(new Piece(Direction.Read, [.. Latin1(connect
                ? "HTTP/1.1 200 Connection established\r\n\r\n"
                : "HTTP/1.1 101 Switching Protocols\r\nUpgrade: custom/2\r\nConnection: Upgrade\r\n\r\n"), .. tail], RawTail: tail.Length));
            for (int i = rng.Next(0, 5); i > 0; i--)
            {
                script.Add(new Piece(rng.Next(2) == 0 ? Direction.Write : Direction.Read, RandomBytes(rng, rng.Next(1, 100)), RawTail: -1));
            }
        }

        return script;
    }

    private static byte[] RandomBytes(Random rng, int length)
    {
        var b = new byte[length];
        rng.NextBytes(b);
        return b;
    }

    /// <summary>The bytes a script's tunnel passes through, per direction.</summary>
    private static byte[] RawBytes(List<Piece> script, Direction direction) =>
        script.Where(p => p.Direction == direction)
            .SelectMany(p => p.RawTail < 0 ? p.Data : p.Data[(p.Data.Length - p.RawTail)..])
            .ToArray();

    /// <summary>
    /// A client-side HTTP/2 conversation: streams 1, 3, 5, ... interleaved at frame level, header
    /// blocks encoded (with dynamic table reuse) in the order they go on the wire.
    /// </summary>
    private static List<Piece> Http2Script(Random rng, out int exchanges)
    {
        int n = rng.Next(1, 6);
        exchanges = n;
        var reqHpack = new HpackWriter();
        var respHpack = new HpackWriter();
        var script = new List<Piece>
        {
            new(Direction.Write, new FrameBuilder().Preface().Settings((1, 4096), (4, 1 << 20)).ToArray()),
            new(Direction.Read, new FrameBuilder().Settings((3, 100)).SettingsAck().ToArray()),
            new(Direction.Write, new FrameBuilder().SettingsAck().ToArray()),
        };

        // Per stream, the client's and the server's frames as deferred builders.
        var client = new List<Queue<Func<byte[]>>>();
        var server = new List<Queue<Func<byte[]>>>();
        string[] paths = ["/a", "/b", "/api/v1/items", "/api/v1/items/7", "/pkg.Svc/Call"];
        for (int i = 0; i < n; i++)
        {
            int stream = 1 + (2 * i);
            bool grpc = rng.Next(4) == 0;
            byte[] reqBody = grpc ? GrpcBody(rng) : rng.Next(2) == 0 ? [] : RandomText(rng, rng.Next(1, 300));
            string path = paths[rng.Next(paths.Length)];
            var fields = new List<(string, string)>
            {
                (":method", reqBody.Length > 0 ? "POST" : "GET"), (":scheme", "https"), (":authority", "svc.example"), (":path", path),
                ("user-agent", "fuzz/1"), ("x-request", "r" + rng.Next(4)),
            };
            if (grpc)
            {
                fields.Add(("content-type", "application/grpc"));
            }

            var c = new Queue<Func<byte[]>>();
            bool reqEnd = reqBody.Length == 0;
            c.Enqueue(() => new FrameBuilder().Headers(stream, reqHpack.Encode(fields, indexNew: true), endStream: reqEnd).ToArray());
            foreach (var (part, last) in Parts(reqBody, rng))
            {
                c.Enqueue(() => new FrameBuilder().Data(stream, part, last).ToArray());
            }

            byte[] respBody = grpc ? GrpcBody(rng) : rng.Next(3) == 0 ? [] : RandomText(rng, rng.Next(1, 500));
            bool trailers = grpc || rng.Next(4) == 0;
            var s = new Queue<Func<byte[]>>();
            var respFields = new List<(string, string)> { (":status", rng.Next(3) == 0 ? "404" : "200"), ("server", "fuzz") };
            if (grpc)
            {
                respFields.Add(("content-type", "application/grpc"));
            }

            bool headersEnd = respBody.Length == 0 && !trailers;
            s.Enqueue(() => new FrameBuilder().Headers(stream, respHpack.Encode(respFields, indexNew: true), endStream: headersEnd).ToArray());
            foreach (var (part, last) in Parts(respBody, rng))
            {
                bool end = last && !trailers;
                s.Enqueue(() => new FrameBuilder().Data(stream, part, end).ToArray());
            }

            if (trailers)
            {
                s.Enqueue(() => new FrameBuilder().Headers(stream, respHpack.Encode([("grpc-status", "0")], indexNew: true), endStream: true).ToArray());
            }

            client.Add(c);
            server.Add(s);
        }

        // Interleave: a stream's server frames only after its request started; control frames sprinkled in.
        var started = new bool[n];
        while (client.Any(q => q.Count > 0) || server.Any(q => q.Count > 0))
        {
            int i = rng.Next(n);
            bool fromServer = rng.Next(2) == 0;
            if (fromServer && started[i] && server[i].Count > 0)
            {
                script.Add(new Piece(Direction.Read, server[i].Dequeue()()));
            }
            else if (!fromServer && client[i].Count > 0 && (i == 0 || started[i - 1]))
            {
                script.Add(new Piece(Direction.Write, client[i].Dequeue()()));
                started[i] = true;
            }
            else if (rng.Next(20) == 0)
            {
                script.Add(rng.Next(2) == 0
                    ? new Piece(Direction.Write, new FrameBuilder().WindowUpdate(0, (uint)rng.Next(1, 100000)).ToArray())
                    : new Piece(Direction.Read, new FrameBuilder().Ping((ulong)rng.Next()).ToArray()));
            }
        }

        return script;
    }

    private static IEnumerable<(byte[] Part, bool Last)> Parts(byte[] body, Random rng)
    {
        if (body.Length == 0)
        {
            yield break;
        }

        int pos = 0;
        while (pos < body.Length)
        {
            int size = Math.Min(body.Length - pos, rng.Next(1, 200));
            yield return (body[pos..(pos + size)], pos + size == body.Length);
            pos += size;
        }
    }

    private static byte[] GrpcBody(Random rng)
    {
        var b = new List<byte>();
        for (int m = rng.Next(1, 4); m > 0; m--)
        {
            int len = rng.Next(0, 50);
            b.Add((byte)rng.Next(2));
            b.AddRange([(byte)(len >> 24), (byte)(len >> 16), (byte)(len >> 8), (byte)len]);
            b.AddRange(RandomText(rng, len));
        }

        return b.ToArray();
    }

    private static byte[] Chunked(byte[] body, Random rng, bool trailer)
    {
        var b = new List<byte>();
        int pos = 0;
        while (pos < body.Length)
        {
            int size = Math.Min(body.Length - pos, rng.Next(1, 150));
            b.AddRange(Latin1(size.ToString("x") + (rng.Next(5) == 0 ? ";ext=v" : "") + "\r\n"));
            b.AddRange(body[pos..(pos + size)]);
            b.AddRange("\r\n"u8.ToArray());
            pos += size;
        }

        b.AddRange(Latin1(trailer ? "0\r\nX-Trailer: t\r\n\r\n" : "0\r\n\r\n"));
        return b.ToArray();
    }

    private static byte[] RandomText(Random rng, int length)
    {
        const string Alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 {}[]\":,\n";
        var b = new byte[length];
        for (int i = 0; i < length; i++)
        {
            b[i] = (byte)Alphabet[rng.Next(Alphabet.Length)];
        }

        return b;
    }

    private static byte[] Gzip(byte[] data)
    {
        var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gz.Write(data);
        }

        return output.ToArray();
    }

    private static byte[] Latin1(string s) => Encoding.Latin1.GetBytes(s);

    /// <summary>Joins runs of same-direction pieces at random, so splits also cross message boundaries.</summary>
    private static List<Piece> Merge(List<Piece> script, Random rng)
    {
        var merged = new List<Piece>();
        foreach (var p in script)
        {
            if (merged.Count > 0 && merged[^1].Direction == p.Direction && merged[^1].Connection == p.Connection && rng.Next(2) == 0)
            {
                merged[^1] = merged[^1] with { Data = [.. merged[^1].Data, .. p.Data] };
            }
            else
            {
                merged.Add(p);
            }
        }

        return merged;
    }

    private static List<Piece> Split(List<Piece> script, Random rng, int maxPiece)
    {
        var pieces = new List<Piece>();
        foreach (var p in script)
        {
            int pos = 0;
            do
            {
                int size = Math.Min(p.Data.Length - pos, rng.Next(1, maxPiece + 1));
                pieces.Add(p with { Data = p.Data[pos..(pos + size)] });
                pos += size;
            }
            while (pos < p.Data.Length);
        }

        return pieces;
    }

    // ---------------------------------------------------------------- running and checking

    private static void RunCases(int seed, int cases, Action<Random> body)
    {
        var master = new Random(seed);
        for (int i = 0; i < cases; i++)
        {
            int caseSeed = master.Next();
            var task = Task.Run(() => body(new Random(caseSeed)));
            bool done;
            try
            {
                done = task.Wait(CaseTimeout);
            }
            catch (AggregateException e)
            {
                throw new Xunit.Sdk.XunitException($"seed {seed} case {i} (case seed {caseSeed}): {e.InnerException}");
            }

            Assert.True(done, $"seed {seed} case {i} (case seed {caseSeed}) did not finish in {CaseTimeout}");
        }
    }

    private static FuzzRun Run(List<Piece> pieces)
    {
        var run = new FuzzRun();
        foreach (var p in pieces)
        {
            var feeder = run.Feeder(p.Connection);
            if (p.GapLength > 0)
            {
                feeder.Gap(p.Direction, p.GapLength);
            }
            else
            {
                feeder.Send(p.Direction, p.Data, truncated: p.Dropped > 0, dropped: p.Dropped);
            }
        }

        run.CloseAll();
        return run;
    }

    /// <summary>
    /// Per connection: gaps and closes pass through once and in order; a connection never recognised
    /// as HTTP passes through unchanged; on an HTTP connection the chunks passed through are, per
    /// direction, a suffix of the chunks fed (the first possibly a tail at its right offset), in feed
    /// order; every request and response event ends up in exactly one exchange with its sequence.
    /// </summary>
    private static void CheckInvariants(FuzzRun run)
    {
        var httpConnections = run.Http.Events.Select(e => e.Flow.Connection).ToHashSet();
        foreach (var (connection, feeder) in run.Feeders)
        {
            var fed = feeder.Fed;
            var passed = run.Raw.Events.Where(e => ConnectionOf(e) == connection).ToList();
            Assert.Equal(fed.Where(e => e is not DataChunk), passed.Where(e => e is not DataChunk));

            var fedIndex = new Dictionary<object, int>(ReferenceEqualityComparer.Instance);
            for (int i = 0; i < fed.Count; i++)
            {
                fedIndex[fed[i]] = i;
            }

            int last = -1;
            foreach (var d in new[] { Direction.Write, Direction.Read })
            {
                var fedChunks = fed.Select((e, i) => (e, i)).Where(x => x.e is DataChunk c && c.Direction == d).ToList();
                var passedChunks = passed.OfType<DataChunk>().Where(c => c.Direction == d).ToList();
                if (passedChunks.Count == 0)
                {
                    continue;
                }

                int k = fedChunks.Count - passedChunks.Count;
                Assert.True(k >= 0, $"conn {connection} {d}: more chunks passed through than fed");

                for (int j = 0; j < passedChunks.Count; j++)
                {
                    var original = (DataChunk)fedChunks[k + j].e;
                    var got = passedChunks[j];
                    if (j == 0)
                    {
                        // Possibly the tail after an upgrade, at its own offset.
                        Assert.True(got.Length <= original.Length);
                        Assert.Equal(original.Data.Span[(original.Length - got.Length)..].ToArray(), got.Data.ToArray());
                        Assert.Equal(original.StreamOffset + original.Length - got.Length, got.StreamOffset);
                        Assert.Equal(original with { Data = default, StreamOffset = 0 }, got with { Data = default, StreamOffset = 0 });
                    }
                    else
                    {
                        Assert.Equal(original with { Data = default }, got with { Data = default });
                        Assert.Equal(original.Data.ToArray(), got.Data.ToArray());
                    }
                }
            }

            // Passed-through events keep the feed's order.
            foreach (var e in passed)
            {
                int index = e is DataChunk c ? IndexOfChunk(fed, c) : fedIndex[e];
                Assert.True(index > last, $"conn {connection}: event passed through out of order");
                last = index;
            }

            if (run.Feeders.Count == 1 && run.Tracker.HttpConnections == 0)
            {
                HttpFlowTrackerTests.AssertSameEvents(fed, passed);
            }

            if (!httpConnections.Contains(connection) && passed.OfType<DataChunk>().Sum(c => c.Length) != fed.OfType<DataChunk>().Sum(c => c.Length))
            {
                // No HTTP event: HTTP that found no message (all consumed), not HTTP (all passed), or HTTP/2
                // that failed (no client preface): from the failing chunk on, everything passes through.
                var fedChunks = fed.OfType<DataChunk>().Select(c => c.Data.ToArray()).ToList();
                var passedChunks = passed.OfType<DataChunk>().Select(c => c.Data.ToArray()).ToList();
                Assert.Equal(fedChunks.Skip(fedChunks.Count - passedChunks.Count), passedChunks);
            }
        }

        // Every request and response event is in exactly one exchange, with the same sequence.
        var exchanges = run.Http.Exchanges;
        Assert.Equal(exchanges.Count, exchanges.Select(e => (e.Flow.Connection, e.Sequence)).Distinct().Count());
        var inExchange = new Dictionary<HttpMessage, HttpExchange>(ReferenceEqualityComparer.Instance);
        foreach (var e in exchanges)
        {
            Assert.True(e.Request is not null || e.Response is not null);
            Assert.True(e.Request is null || e.Request.IsRequest);
            Assert.True(e.Response is null || !e.Response.IsRequest);
            foreach (var m in new[] { e.Request, e.Response })
            {
                if (m is not null)
                {
                    inExchange.Add(m, e);
                }
            }
        }

        foreach (var (kind, flow, sequence, message, _) in run.Http.Events.Where(e => e.Message is not null))
        {
            Assert.True(inExchange.TryGetValue(message!, out var exchange), $"{kind}#{sequence} never reached an exchange");
            Assert.Equal(sequence, exchange.Sequence);
            Assert.Same(flow, exchange.Flow);
        }

        Assert.Equal(inExchange.Count, run.Http.Events.Count(e => e.Message is not null));
        Assert.Equal(exchanges.Count, run.Tracker.Exchanges);
    }

    private static int IndexOfChunk(List<object> fed, DataChunk passed)
    {
        for (int i = 0; i < fed.Count; i++)
        {
            if (fed[i] is DataChunk c && c.Direction == passed.Direction &&
                c.StreamOffset <= passed.StreamOffset && passed.StreamOffset + passed.Length == c.StreamOffset + c.Length &&
                c.TimeUnixNs == passed.TimeUnixNs)
            {
                return i;
            }
        }

        throw new Xunit.Sdk.XunitException("a chunk passed through was never fed");
    }

    private static ulong ConnectionOf(object e) => e switch
    {
        DataChunk c => c.Connection,
        StreamGap g => g.Connection,
        ConnectionClosed c => c.Connection,
        _ => throw new InvalidOperationException(),
    };

    /// <param name="RawTail">Script pieces only: how many of the last bytes are not HTTP (-1: all of them).</param>
    public sealed record Piece(Direction Direction, byte[] Data, long GapLength = 0, long Dropped = 0, ulong Connection = 7, int RawTail = 0);

    private sealed class FuzzRun
    {
        public FuzzRun()
        {
            Tracker = new HttpFlowTracker(Raw, Http, new FlowOptions());
        }

        public RecordingCaptureSink Raw { get; } = new();

        public RecordingHttpSink Http { get; } = new();

        public HttpFlowTracker Tracker { get; }

        public SortedDictionary<ulong, ConnectionFeeder> Feeders { get; } = new();

        public List<object> Fed => Feeders.Count == 1 ? Feeders.Values.Single().Fed : throw new InvalidOperationException();

        public ConnectionFeeder Feeder(ulong connection)
        {
            if (!Feeders.TryGetValue(connection, out var feeder))
            {
                feeder = new ConnectionFeeder(Tracker, connection);
                Feeders[connection] = feeder;
            }

            return feeder;
        }

        public void CloseAll()
        {
            foreach (var feeder in Feeders.Values)
            {
                feeder.Close();
            }
        }
    }
}
