using System.Runtime.InteropServices;

namespace TlsScope.Sources.Tls.Keys.Calibration;

/// <summary>
/// The libssl functions calibration calls, resolved from one dlopen handle (dlsym on it also
/// finds libcrypto's symbols through the library's dependencies). Only functions that OpenSSL
/// 3 and BoringSSL both export, plus the version-specific ways to cap the protocol version.
/// </summary>
internal sealed unsafe class NativeTls
{
    private const int SslCtrlSetMaxProtoVersion = 124; // OpenSSL's SSL_CTX_set_max_proto_version macro

    private readonly nint _handle;

    public NativeTls(string libraryPath)
    {
        _handle = NativeLibrary.Load(libraryPath);
        TLS_method = (delegate* unmanaged<nint>)Get("TLS_method");
        SSL_CTX_new = (delegate* unmanaged<nint, nint>)Get("SSL_CTX_new");
        SSL_CTX_free = (delegate* unmanaged<nint, void>)Get("SSL_CTX_free");
        SSL_CTX_use_certificate = (delegate* unmanaged<nint, nint, int>)Get("SSL_CTX_use_certificate");
        SSL_CTX_use_PrivateKey = (delegate* unmanaged<nint, nint, int>)Get("SSL_CTX_use_PrivateKey");
        SSL_CTX_set_cipher_list = (delegate* unmanaged<nint, byte*, int>)Get("SSL_CTX_set_cipher_list");
        SSL_CTX_set_keylog_callback = (delegate* unmanaged<nint, nint, void>)Get("SSL_CTX_set_keylog_callback");
        SSL_CTX_set_msg_callback = (delegate* unmanaged<nint, nint, void>)Get("SSL_CTX_set_msg_callback");
        SSL_CTX_set_info_callback = (delegate* unmanaged<nint, nint, void>)Get("SSL_CTX_set_info_callback");
        SSL_new = (delegate* unmanaged<nint, nint>)Get("SSL_new");
        SSL_free = (delegate* unmanaged<nint, void>)Get("SSL_free");
        SSL_set_bio = (delegate* unmanaged<nint, nint, nint, void>)Get("SSL_set_bio");
        SSL_set_connect_state = (delegate* unmanaged<nint, void>)Get("SSL_set_connect_state");
        SSL_set_accept_state = (delegate* unmanaged<nint, void>)Get("SSL_set_accept_state");
        SSL_do_handshake = (delegate* unmanaged<nint, int>)Get("SSL_do_handshake");
        SSL_get_error = (delegate* unmanaged<nint, int, int>)Get("SSL_get_error");
        SSL_read = (delegate* unmanaged<nint, byte*, int, int>)Get("SSL_read");
        SSL_write = (delegate* unmanaged<nint, byte*, int, int>)Get("SSL_write");
        SSL_version = (delegate* unmanaged<nint, int>)Get("SSL_version");
        SSL_get_session = (delegate* unmanaged<nint, nint>)Get("SSL_get_session");
        SSL_get_current_cipher = (delegate* unmanaged<nint, nint>)Get("SSL_get_current_cipher");
        SSL_CIPHER_get_id = (delegate* unmanaged<nint, uint>)Get("SSL_CIPHER_get_id");
        SSL_get_client_random = (delegate* unmanaged<nint, byte*, nuint, nuint>)Get("SSL_get_client_random");
        BIO_new_bio_pair = (delegate* unmanaged<nint*, nuint, nint*, nuint, int>)Get("BIO_new_bio_pair");
        BIO_new_mem_buf = (delegate* unmanaged<byte*, nint, nint>)Get("BIO_new_mem_buf");
        BIO_free = (delegate* unmanaged<nint, int>)Get("BIO_free");
        PEM_read_bio_X509 = (delegate* unmanaged<nint, nint, nint, nint, nint>)Get("PEM_read_bio_X509");
        PEM_read_bio_PrivateKey = (delegate* unmanaged<nint, nint, nint, nint, nint>)Get("PEM_read_bio_PrivateKey");
        X509_free = (delegate* unmanaged<nint, void>)Get("X509_free");
        EVP_PKEY_free = (delegate* unmanaged<nint, void>)Get("EVP_PKEY_free");
        NativeLibrary.TryGetExport(_handle, "SSL_CTX_set_ciphersuites", out var suites);
        SSL_CTX_set_ciphersuites = (delegate* unmanaged<nint, byte*, int>)suites;
        NativeLibrary.TryGetExport(_handle, "SSL_CTX_set_max_proto_version", out var max);
        _setMaxProtoVersion = (delegate* unmanaged<nint, ushort, int>)max;
        if (max == 0)
        {
            _ctxCtrl = (delegate* unmanaged<nint, int, nint, nint, nint>)Get("SSL_CTX_ctrl");
        }
    }

    public readonly delegate* unmanaged<nint> TLS_method;
    public readonly delegate* unmanaged<nint, nint> SSL_CTX_new;
    public readonly delegate* unmanaged<nint, void> SSL_CTX_free;
    public readonly delegate* unmanaged<nint, nint, int> SSL_CTX_use_certificate;
    public readonly delegate* unmanaged<nint, nint, int> SSL_CTX_use_PrivateKey;
    public readonly delegate* unmanaged<nint, byte*, int> SSL_CTX_set_cipher_list;
    /// <summary>OpenSSL only; BoringSSL's TLS 1.3 suites are not configurable (null).</summary>
    public readonly delegate* unmanaged<nint, byte*, int> SSL_CTX_set_ciphersuites;
    public readonly delegate* unmanaged<nint, nint, void> SSL_CTX_set_keylog_callback;
    public readonly delegate* unmanaged<nint, nint, void> SSL_CTX_set_msg_callback;
    public readonly delegate* unmanaged<nint, nint, void> SSL_CTX_set_info_callback;
    public readonly delegate* unmanaged<nint, nint> SSL_new;
    public readonly delegate* unmanaged<nint, void> SSL_free;
    public readonly delegate* unmanaged<nint, nint, nint, void> SSL_set_bio;
    public readonly delegate* unmanaged<nint, void> SSL_set_connect_state;
    public readonly delegate* unmanaged<nint, void> SSL_set_accept_state;
    public readonly delegate* unmanaged<nint, int> SSL_do_handshake;
    public readonly delegate* unmanaged<nint, int, int> SSL_get_error;
    public readonly delegate* unmanaged<nint, byte*, int, int> SSL_read;
    public readonly delegate* unmanaged<nint, byte*, int, int> SSL_write;
    public readonly delegate* unmanaged<nint, int> SSL_version;
    public readonly delegate* unmanaged<nint, nint> SSL_get_session;
    public readonly delegate* unmanaged<nint, nint> SSL_get_current_cipher;
    public readonly delegate* unmanaged<nint, uint> SSL_CIPHER_get_id;
    public readonly delegate* unmanaged<nint, byte*, nuint, nuint> SSL_get_client_random;
    public readonly delegate* unmanaged<nint*, nuint, nint*, nuint, int> BIO_new_bio_pair;
    public readonly delegate* unmanaged<byte*, nint, nint> BIO_new_mem_buf;
    public readonly delegate* unmanaged<nint, int> BIO_free;
    public readonly delegate* unmanaged<nint, nint, nint, nint, nint> PEM_read_bio_X509;
    public readonly delegate* unmanaged<nint, nint, nint, nint, nint> PEM_read_bio_PrivateKey;
    public readonly delegate* unmanaged<nint, void> X509_free;
    public readonly delegate* unmanaged<nint, void> EVP_PKEY_free;

    private readonly delegate* unmanaged<nint, ushort, int> _setMaxProtoVersion;
    private readonly delegate* unmanaged<nint, int, nint, nint, nint> _ctxCtrl;

    /// <summary>Caps the protocol version: a function in BoringSSL, a ctrl macro in OpenSSL.</summary>
    public bool SetMaxProtoVersion(nint ctx, ushort version) =>
        _setMaxProtoVersion != null ? _setMaxProtoVersion(ctx, version) == 1 : _ctxCtrl(ctx, SslCtrlSetMaxProtoVersion, version, 0) == 1;

    private nint Get(string name) =>
        NativeLibrary.TryGetExport(_handle, name, out var address)
            ? address
            : throw new CalibrationException($"{name} not found (not an OpenSSL/BoringSSL libssl)");
}
