using System.Security.Cryptography;
using System.Text;
using TlsScope.Sources.Tls.Keys.Decoding;

namespace TlsScope.Sources.Tls.Keys.Calibration;

/// <summary>
/// A client and a server SSL object of one library, handshaking in memory (a BIO pair, one
/// thread, no network), then one write and one read each way: the state the kernel sees at
/// its first SSL_read/SSL_write return. The objects stay alive until disposed, so their memory
/// can be searched and re-read.
/// </summary>
public sealed unsafe class LiveHandshake : IDisposable
{
    private const int SslErrorWantRead = 2, SslErrorWantWrite = 3;
    private static readonly Dictionary<string, NativeTls> Libraries = [];

    private readonly NativeTls _tls;
    private nint _clientCtx, _serverCtx;

    private LiveHandshake(NativeTls tls) => _tls = tls;

    public nint Client { get; private set; }
    public nint Server { get; private set; }

    /// <summary>The lines the library's key log callback wrote for the client / the server.</summary>
    public IReadOnlyList<string> ClientLines => HandshakeLog.For(Client).Lines;
    public IReadOnlyList<string> ServerLines => HandshakeLog.For(Server).Lines;

    /// <summary>Runs one handshake and exchange. <paramref name="firstTransfer"/> is called for
    /// each side right after its first SSL_write/SSL_read returned (true: the server);
    /// <paramref name="probe"/> sees both objects' callbacks during the handshake.</summary>
    /// <exception cref="CalibrationException">The library is unusable or the handshake failed.</exception>
    public static LiveHandshake Run(string libraryPath, HandshakeCase handshake, bool serverFirst = false,
        Action<LiveHandshake, bool>? firstTransfer = null, IHandshakeProbe? probe = null)
    {
        ArgumentNullException.ThrowIfNull(handshake);
        var live = new LiveHandshake(Load(libraryPath));
        try
        {
            live.Start(handshake, probe);
            live.Exchange(serverFirst, firstTransfer);
            return live;
        }
        catch
        {
            live.Dispose();
            throw;
        }
    }

    /// <summary>Everything known about one side, for <see cref="SecretSearch"/>.</summary>
    public KnownSecrets Describe(bool server)
    {
        var ssl = server ? Server : Client;
        var cipher = _tls.SSL_get_current_cipher(ssl);
        var cipherId = cipher == 0 ? 0 : _tls.SSL_CIPHER_get_id(cipher);
        var random = new byte[32];
        fixed (byte* r = random)
        {
            _tls.SSL_get_client_random(ssl, r, 32);
        }

        var log = HandshakeLog.For(ssl);
        var secrets = new Dictionary<string, byte[]>();
        var randomHex = Convert.ToHexStringLower(random);
        foreach (var line in log.Lines)
        {
            var parts = line.Split(' ');
            if (parts.Length == 3 && parts[1] == randomHex)
            {
                secrets[parts[0]] = Convert.FromHexString(parts[2]);
            }
        }
        var version = (ushort)_tls.SSL_version(ssl);
        var hash = version == 0x0304 ? TranscriptHash(log.Messages, cipherId) : null;
        return new KnownSecrets(server, version, cipherId, random, secrets, hash,
            (ulong)_tls.SSL_get_session(ssl), (ulong)cipher);
    }

    public void Dispose()
    {
        foreach (var ssl in (ReadOnlySpan<nint>)[Client, Server])
        {
            if (ssl == 0)
            {
                continue;
            }

            _tls.SSL_free(ssl);
            HandshakeLog.Forget(ssl);
        }
        if (_clientCtx != 0)
        {
            _tls.SSL_CTX_free(_clientCtx);
        }

        if (_serverCtx != 0)
        {
            _tls.SSL_CTX_free(_serverCtx);
        }

        Client = Server = _clientCtx = _serverCtx = 0;
    }

    private static NativeTls Load(string libraryPath)
    {
        lock (Libraries)
        {
            if (!Libraries.TryGetValue(libraryPath, out var tls))
            {
                try
                {
                    tls = new NativeTls(libraryPath);
                }
                catch (DllNotFoundException e)
                {
                    throw new CalibrationException($"cannot load {libraryPath}: {e.Message.Split('\n')[0]}");
                }
                Libraries[libraryPath] = tls;
            }
            return tls;
        }
    }

    private void Start(HandshakeCase handshake, IHandshakeProbe? probe)
    {
        NewContext(handshake, server: false);
        NewContext(handshake, server: true);
        Client = _tls.SSL_new(_clientCtx);
        Server = _tls.SSL_new(_serverCtx);
        if (Client == 0 || Server == 0)
        {
            throw new CalibrationException("SSL_new failed");
        }

        HandshakeLog.For(Client).Probe = probe;
        HandshakeLog.For(Server).Probe = probe;
        nint clientBio, serverBio;
        if (_tls.BIO_new_bio_pair(&clientBio, 0, &serverBio, 0) != 1)
        {
            throw new CalibrationException("BIO_new_bio_pair failed");
        }

        _tls.SSL_set_bio(Client, clientBio, clientBio);
        _tls.SSL_set_bio(Server, serverBio, serverBio);
        _tls.SSL_set_connect_state(Client);
        _tls.SSL_set_accept_state(Server);
        for (var round = 0; round < 50; round++)
        {
            var c = _tls.SSL_do_handshake(Client);
            var s = _tls.SSL_do_handshake(Server);
            if (c == 1 && s == 1)
            {
                return;
            }

            Check(Client, c, "client handshake");
            Check(Server, s, "server handshake");
        }
        throw new CalibrationException($"{handshake.Name}: the in-memory handshake did not finish");
    }

    private void NewContext(HandshakeCase handshake, bool server)
    {
        var ctx = _tls.SSL_CTX_new(_tls.TLS_method());
        if (ctx == 0)
        {
            throw new CalibrationException("SSL_CTX_new failed");
        }
        // Kept at once so Dispose frees it if the setup below fails.
        if (server)
        {
            _serverCtx = ctx;
        }
        else
        {
            _clientCtx = ctx;
        }

        if (handshake.MaxVersion != 0 && !_tls.SetMaxProtoVersion(ctx, handshake.MaxVersion))
        {
            throw new CalibrationException($"{handshake.Name}: cannot cap the protocol version");
        }

        if (handshake.CipherList != null && SetString(_tls.SSL_CTX_set_cipher_list, ctx, handshake.CipherList) != 1)
        {
            throw new CalibrationException($"{handshake.Name}: cipher list rejected");
        }

        if (handshake.Tls13Suites != null && _tls.SSL_CTX_set_ciphersuites != null
            && SetString(_tls.SSL_CTX_set_ciphersuites, ctx, handshake.Tls13Suites) != 1)
        {
            throw new CalibrationException($"{handshake.Name}: TLS 1.3 suites rejected");
        }

        _tls.SSL_CTX_set_keylog_callback(ctx, HandshakeLog.KeylogCallback);
        _tls.SSL_CTX_set_msg_callback(ctx, HandshakeLog.MessageCallback);
        _tls.SSL_CTX_set_info_callback(ctx, HandshakeLog.InfoCallback);
        if (server)
        {
            UseCertificate(ctx);
        }
    }

    private void UseCertificate(nint ctx)
    {
        var (cert, key) = CalibrationCert.Get();
        var x509 = ReadPem(cert, _tls.PEM_read_bio_X509);
        var pkey = ReadPem(key, _tls.PEM_read_bio_PrivateKey);
        try
        {
            if (x509 == 0 || pkey == 0 || _tls.SSL_CTX_use_certificate(ctx, x509) != 1 || _tls.SSL_CTX_use_PrivateKey(ctx, pkey) != 1)
            {
                throw new CalibrationException("cannot load the calibration certificate");
            }
        }
        finally
        {
            if (x509 != 0)
            {
                _tls.X509_free(x509);
            }

            if (pkey != 0)
            {
                _tls.EVP_PKEY_free(pkey);
            }
        }
    }

    private nint ReadPem(string pem, delegate* unmanaged<nint, nint, nint, nint, nint> read)
    {
        var bytes = Encoding.ASCII.GetBytes(pem);
        fixed (byte* p = bytes)
        {
            var bio = _tls.BIO_new_mem_buf(p, bytes.Length);
            if (bio == 0)
            {
                return 0;
            }

            var result = read(bio, 0, 0, 0);
            _tls.BIO_free(bio);
            return result;
        }
    }

    private void Exchange(bool serverFirst, Action<LiveHandshake, bool>? firstTransfer)
    {
        var (first, second) = serverFirst ? (Server, Client) : (Client, Server);
        Write(first);
        firstTransfer?.Invoke(this, serverFirst);
        Read(second);
        firstTransfer?.Invoke(this, !serverFirst);
        Write(second);
        Read(first);
    }

    private void Write(nint ssl)
    {
        var data = "calibration"u8.ToArray();
        fixed (byte* p = data)
        {
            Check(ssl, _tls.SSL_write(ssl, p, data.Length), "SSL_write", transferOnly: true);
        }
    }

    private void Read(nint ssl)
    {
        var buffer = new byte[256];
        fixed (byte* p = buffer)
        {
            for (var i = 0; i < 10; i++)
            {
                var n = _tls.SSL_read(ssl, p, buffer.Length);
                if (n > 0)
                {
                    return;
                }

                Check(ssl, n, "SSL_read");
            }
        }
        throw new CalibrationException("SSL_read returned no data");
    }

    private void Check(nint ssl, int result, string what, bool transferOnly = false)
    {
        if (result > 0)
        {
            return;
        }

        var error = _tls.SSL_get_error(ssl, result);
        if (transferOnly || (error != SslErrorWantRead && error != SslErrorWantWrite))
        {
            throw new CalibrationException($"{what} failed (SSL error {error})");
        }
    }

    private static int SetString(delegate* unmanaged<nint, byte*, int> set, nint ctx, string value)
    {
        var bytes = Encoding.ASCII.GetBytes(value + "\0");
        fixed (byte* p = bytes)
        {
            return set(ctx, p);
        }
    }

    /// <summary>Hash of ClientHello..ServerHello, the context of the handshake traffic secrets.</summary>
    private static byte[]? TranscriptHash(List<byte[]> messages, uint cipherId)
    {
        var clientHello = messages.Find(m => m[0] == 1);
        var serverHello = messages.Find(m => m[0] == 2);
        if (clientHello == null || serverHello == null)
        {
            return null;
        }

        byte[] transcript = [.. clientHello, .. serverHello];
        return CipherSuites.Hash(cipherId) == HashAlgorithmName.SHA384 ? SHA384.HashData(transcript) : SHA256.HashData(transcript);
    }
}
