// TLS engine: OpenSSL over memory BIOs (src/sslproto.ts drives it).
//
// A separate addon (coio_tls.node), loaded on the first TLS call, so that a
// Node whose OpenSSL symbols are not reachable from addons (built without
// OpenSSL, or a BoringSSL fork) loses TLS with a clear error and keeps the
// rest of coio (binding.gyp says how the symbols are found).
//
// Syscall-free: an SSLConn owns an SSL whose two BIOs are memory queues
// (tls_bio.cc: OpenSSL's memory BIO zero-fills what it is about to overwrite).
// Ciphertext is fed in (feed), plaintext comes out into a buffer the caller
// gives (read: decrypt straight into the app's buffer), plaintext goes in
// (write) and ciphertext comes out (readOut). No fd, no blocking, and no JS
// runs inside an OpenSSL call: every OpenSSL callback here is native.
// Server name indication (SNI) is the one place where policy must run in
// the middle of a handshake; the client-hello callback only records the
// name and suspends the handshake (SSL_CLIENT_HELLO_RETRY), handshake()
// returns WANT_CLIENT_HELLO_CB, the TypeScript side picks a context
// (setContext) and calls handshake() again, which resumes it.
//
// Results are return codes, not exceptions, on the data path: a negative
// number is -SSL_get_error() (WANT_READ -2, ZERO_RETURN -6, SSL -1, ...);
// the error behind SSL / SYSCALL is kept and taken with takeError(), which
// says OpenSSL's library and reason and, for a certificate, the verify
// code. Configuration errors (bad PEM, unknown cipher) throw an Error with
// the same fields.
#include <napi.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cstring>
#include <string>
#include <vector>

#include "args.h"
#include "tls_bio.h"

namespace coio {
namespace {

const char* LibName(int lib) {
  switch (lib) {
    case ERR_LIB_SSL: return "SSL";
    case ERR_LIB_PEM: return "PEM";
    case ERR_LIB_X509: return "X509";
    case ERR_LIB_X509V3: return "X509V3";
    case ERR_LIB_ASN1: return "ASN1";
    case ERR_LIB_EVP: return "EVP";
    case ERR_LIB_BIO: return "BIO";
    case ERR_LIB_SYS: return "SYS";
    case ERR_LIB_PKCS12: return "PKCS12";
    case ERR_LIB_RSA: return "RSA";
    case ERR_LIB_EC: return "EC";
#ifdef ERR_LIB_PROV
    case ERR_LIB_PROV: return "PROV";
#endif
#ifdef ERR_LIB_DECODER
    case ERR_LIB_DECODER: return "DECODER";
#endif
    case ERR_LIB_CRYPTO: return "CRYPTO";
    default: return nullptr;
  }
}

// X509_V_ERR_X -> "X": Node's spelling of verify errors (err.code).
const char* VerifyCodeName(long code) {
  switch (code) {
#define V(name) \
  case X509_V_ERR_##name: return #name;
    V(UNABLE_TO_GET_ISSUER_CERT)
    V(UNABLE_TO_GET_CRL)
    V(UNABLE_TO_DECRYPT_CERT_SIGNATURE)
    V(UNABLE_TO_DECRYPT_CRL_SIGNATURE)
    V(UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY)
    V(CERT_SIGNATURE_FAILURE)
    V(CRL_SIGNATURE_FAILURE)
    V(CERT_NOT_YET_VALID)
    V(CERT_HAS_EXPIRED)
    V(CRL_NOT_YET_VALID)
    V(CRL_HAS_EXPIRED)
    V(ERROR_IN_CERT_NOT_BEFORE_FIELD)
    V(ERROR_IN_CERT_NOT_AFTER_FIELD)
    V(ERROR_IN_CRL_LAST_UPDATE_FIELD)
    V(ERROR_IN_CRL_NEXT_UPDATE_FIELD)
    V(OUT_OF_MEM)
    V(DEPTH_ZERO_SELF_SIGNED_CERT)
    V(SELF_SIGNED_CERT_IN_CHAIN)
    V(UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
    V(UNABLE_TO_VERIFY_LEAF_SIGNATURE)
    V(CERT_CHAIN_TOO_LONG)
    V(CERT_REVOKED)
    V(INVALID_CA)
    V(PATH_LENGTH_EXCEEDED)
    V(INVALID_PURPOSE)
    V(CERT_UNTRUSTED)
    V(CERT_REJECTED)
    V(HOSTNAME_MISMATCH)
    V(EMAIL_MISMATCH)
    V(IP_ADDRESS_MISMATCH)
    V(INVALID_CALL)
    V(STORE_LOOKUP)
#undef V
    default: return nullptr;
  }
}

// OpenSSL's reason text, "wrong version number", is its mnemonic in lower
// case with spaces: turn it back into WRONG_VERSION_NUMBER.
std::string ReasonMnemonic(const char* text) {
  std::string out;
  for (const char* p = text; *p != '\0'; p++) {
    unsigned char ch = static_cast<unsigned char>(*p);
    out.push_back(ch == ' ' || ch == '-' ? '_' : static_cast<char>(std::toupper(ch)));
  }
  return out;
}

// What went wrong, taken from OpenSSL's (thread-local) error queue, which is
// left empty.
struct SslFailure {
  bool set = false;
  int lib = 0;
  std::string library;
  std::string reason;      // mnemonic, "WRONG_VERSION_NUMBER"
  std::string reasonText;  // "wrong version number"
  long verifyCode = 0;     // X509_V_OK unless a certificate failed
  int sslError = 0;        // SSL_get_error's answer, 0 for configuration calls
};

SslFailure TakeQueue(const char* fallback) {
  SslFailure f;
  f.set = true;
  unsigned long e = ERR_peek_last_error();
  if (e != 0) {
    f.lib = ERR_GET_LIB(e);
    const char* lib = LibName(f.lib);
    f.library = lib != nullptr ? lib : (ERR_lib_error_string(e) != nullptr ? ERR_lib_error_string(e) : "");
    const char* text = ERR_reason_error_string(e);
    if (text != nullptr) {
      f.reasonText = text;
      f.reason = ReasonMnemonic(text);
    } else {
      f.reasonText = fallback;
      f.reason = "UNKNOWN";
    }
  } else {
    f.reasonText = fallback;
  }
  ERR_clear_error();
  return f;
}

Napi::Object FailureObject(Napi::Env env, const SslFailure& f) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("library", f.library.empty() ? env.Null() : Napi::String::New(env, f.library));
  o.Set("reason", f.reason.empty() ? env.Null() : Napi::String::New(env, f.reason));
  o.Set("reasonText", Napi::String::New(env, f.reasonText));
  o.Set("sslError", Napi::Number::New(env, f.sslError));
  o.Set("verifyCode", Napi::Number::New(env, static_cast<double>(f.verifyCode)));
  if (f.verifyCode != X509_V_OK) {
    const char* name = VerifyCodeName(f.verifyCode);
    o.Set("verifyName", name != nullptr ? Napi::Value(Napi::String::New(env, name)) : env.Null());
    o.Set("verifyMessage", Napi::String::New(env, X509_verify_cert_error_string(f.verifyCode)));
  }
  return o;
}

// Configuration failures throw: an Error whose `ssl` property holds the fields.
[[noreturn]] void ThrowSsl(Napi::Env env, const char* what) {
  SslFailure f = TakeQueue(what);
  std::string message = std::string(what);
  if (!f.reason.empty()) message += ": [" + f.library + ": " + f.reason + "] " + f.reasonText;
  Napi::Error err = Napi::Error::New(env, message);
  err.Value().Set("ssl", FailureObject(env, f));
  throw err;
}

std::string ArgStdString(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  if (!info[i].IsString()) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " must be a string");
  }
  return info[i].As<Napi::String>().Utf8Value();
}

// A PEM or DER argument: a string or a Uint8Array, as a read-only memory BIO.
BIO* ArgBio(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, std::string& keep) {
  if (info[i].IsString()) {
    keep = info[i].As<Napi::String>().Utf8Value();
    return BIO_new_mem_buf(keep.data(), static_cast<int>(keep.size()));
  }
  Bytes b = ArgBytes(info, i, fn, name);
  return BIO_new_mem_buf(b.data, static_cast<int>(b.length));
}

struct BioCloser {
  BIO* bio;
  ~BioCloser() { BIO_free(bio); }
};

// Never prompt on the terminal (OpenSSL's default for an encrypted key).
int PasswordCallback(char* buf, int size, int rwflag, void* userdata) {
  const std::string* pw = static_cast<const std::string*>(userdata);
  if (pw == nullptr) return -1;
  int n = static_cast<int>(pw->size());
  if (n > size) return -1;
  std::memcpy(buf, pw->data(), n);
  return n;
}

class SslConn;

class SslContext : public Napi::ObjectWrap<SslContext> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SslContext",
                       {
                           InstanceMethod<&SslContext::UseCertificateChain>("useCertificateChain"),
                           InstanceMethod<&SslContext::UsePrivateKey>("usePrivateKey"),
                           InstanceMethod<&SslContext::AddCa>("addCa"),
                           InstanceMethod<&SslContext::LoadVerifyLocations>("loadVerifyLocations"),
                           InstanceMethod<&SslContext::SetDefaultVerifyPaths>("setDefaultVerifyPaths"),
                           InstanceMethod<&SslContext::SetVerify>("setVerify"),
                           InstanceMethod<&SslContext::SetProtoVersion>("setProtoVersion"),
                           InstanceMethod<&SslContext::GetProtoVersion>("getProtoVersion"),
                           InstanceMethod<&SslContext::SetCiphers>("setCiphers"),
                           InstanceMethod<&SslContext::SetCiphersuites>("setCiphersuites"),
                           InstanceMethod<&SslContext::GetCiphers>("getCiphers"),
                           InstanceMethod<&SslContext::SetAlpn>("setAlpn"),
                           InstanceMethod<&SslContext::SetSni>("setSni"),
                           InstanceMethod<&SslContext::GetOptions>("getOptions"),
                           InstanceMethod<&SslContext::SetOptions>("setOptions"),
                           InstanceMethod<&SslContext::CaCount>("caCount"),
                       });
  }

  SslContext(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SslContext>(info) {
    server_ = info[0].ToBoolean().Value();
    ERR_clear_error();
    ctx_ = SSL_CTX_new(server_ ? TLS_server_method() : TLS_client_method());
    if (ctx_ == nullptr) ThrowSsl(info.Env(), "SSL_CTX_new failed");
    // TLS 1.2 at least, as Python's and Node's defaults.
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    // Partial writes and a moving write buffer: the caller owns its buffers
    // between calls. Release the record buffers of an idle connection
    // (~34 KiB each), as Node does.
    SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                               SSL_MODE_RELEASE_BUFFERS);
    long opts = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION;
    if (server_) opts |= SSL_OP_CIPHER_SERVER_PREFERENCE;
    SSL_CTX_set_options(ctx_, opts);
    static const unsigned char kSid[] = "coio";
    SSL_CTX_set_session_id_context(ctx_, kSid, sizeof(kSid) - 1);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
  }

  ~SslContext() override {
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }

  SSL_CTX* ctx() const { return ctx_; }

 private:
  friend class SslConn;

  // The certificate chain from PEM: the leaf first, then intermediates.
  void UseCertificateChain(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string keep;
    BioCloser bio{ArgBio(info, 0, "useCertificateChain", "cert", keep)};
    ERR_clear_error();
    X509* leaf = PEM_read_bio_X509_AUX(bio.bio, nullptr, PasswordCallback, nullptr);
    if (leaf == nullptr) ThrowSsl(env, "no certificate found in the PEM data");
    int ok = SSL_CTX_use_certificate(ctx_, leaf);
    X509_free(leaf);
    if (ok != 1) ThrowSsl(env, "cannot use the certificate");
    SSL_CTX_clear_chain_certs(ctx_);
    for (;;) {
      X509* ca = PEM_read_bio_X509(bio.bio, nullptr, PasswordCallback, nullptr);
      if (ca == nullptr) break;
      if (SSL_CTX_add0_chain_cert(ctx_, ca) != 1) {
        X509_free(ca);
        ThrowSsl(env, "cannot add a chain certificate");
      }
    }
    // The loop ends on "no start line": the end of the data, not an error.
    unsigned long e = ERR_peek_last_error();
    if (e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
      ThrowSsl(env, "bad certificate in the chain");
    }
    ERR_clear_error();
  }

  // usePrivateKey(pem, password | null).
  void UsePrivateKey(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string keep;
    BioCloser bio{ArgBio(info, 0, "usePrivateKey", "key", keep)};
    std::string password;
    bool hasPassword = info.Length() > 1 && !info[1].IsNull() && !info[1].IsUndefined();
    if (hasPassword) password = ArgStdString(info, 1, "usePrivateKey", "password");
    ERR_clear_error();
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.bio, nullptr, PasswordCallback, hasPassword ? &password : nullptr);
    if (key == nullptr) ThrowSsl(env, "cannot read the private key");
    int ok = SSL_CTX_use_PrivateKey(ctx_, key);
    EVP_PKEY_free(key);
    if (ok != 1) ThrowSsl(env, "cannot use the private key");
    if (SSL_CTX_check_private_key(ctx_) != 1) ThrowSsl(env, "the private key does not match the certificate");
  }

  // addCa(pem string | DER bytes, isDer): trusted certificates; returns how many.
  Napi::Value AddCa(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string keep;
    BioCloser bio{ArgBio(info, 0, "addCa", "cadata", keep)};
    bool der = info[1].ToBoolean().Value();
    X509_STORE* store = SSL_CTX_get_cert_store(ctx_);
    int count = 0;
    ERR_clear_error();
    for (;;) {
      X509* cert = der ? d2i_X509_bio(bio.bio, nullptr) : PEM_read_bio_X509(bio.bio, nullptr, PasswordCallback, nullptr);
      if (cert == nullptr) break;
      // A certificate already in the store is not an error (OpenSSL 3 ignores it).
      int ok = X509_STORE_add_cert(store, cert);
      X509_free(cert);
      if (ok != 1) ThrowSsl(env, "cannot add a CA certificate");
      count++;
      if (der && BIO_eof(bio.bio)) break;
    }
    unsigned long e = ERR_peek_last_error();
    bool endOfData = e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
    if (count == 0 || !endOfData) ThrowSsl(env, "no valid certificate in cadata");
    ERR_clear_error();
    return Napi::Number::New(env, count);
  }

  // loadVerifyLocations(cafile | null, capath | null).
  void LoadVerifyLocations(const Napi::CallbackInfo& info) {
    std::string file, path;
    bool hasFile = info[0].IsString(), hasPath = info[1].IsString();
    if (hasFile) file = info[0].As<Napi::String>().Utf8Value();
    if (hasPath) path = info[1].As<Napi::String>().Utf8Value();
    ERR_clear_error();
    if (SSL_CTX_load_verify_locations(ctx_, hasFile ? file.c_str() : nullptr, hasPath ? path.c_str() : nullptr) != 1) {
      ThrowSsl(info.Env(), "cannot load the verify locations");
    }
  }

  void SetDefaultVerifyPaths(const Napi::CallbackInfo& info) {
    ERR_clear_error();
    if (SSL_CTX_set_default_verify_paths(ctx_) != 1) ThrowSsl(info.Env(), "cannot set the default verify paths");
  }

  // setVerify(0 none | 1 optional | 2 required).
  void SetVerify(const Napi::CallbackInfo& info) {
    int mode = static_cast<int>(ArgInteger(info, 0, "setVerify", "mode", 0, 2));
    int flags = SSL_VERIFY_NONE;
    if (mode >= 1) flags = SSL_VERIFY_PEER;
    if (mode == 2 && server_) flags |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx_, flags, nullptr);
  }

  // setProtoVersion(isMax, version): 0 means no bound.
  void SetProtoVersion(const Napi::CallbackInfo& info) {
    bool isMax = info[0].ToBoolean().Value();
    int v = static_cast<int>(ArgInteger(info, 1, "setProtoVersion", "version", 0, 0xffff));
    ERR_clear_error();
    int ok = isMax ? SSL_CTX_set_max_proto_version(ctx_, v) : SSL_CTX_set_min_proto_version(ctx_, v);
    if (ok != 1) ThrowSsl(info.Env(), "unsupported protocol version");
  }

  Napi::Value GetProtoVersion(const Napi::CallbackInfo& info) {
    bool isMax = info[0].ToBoolean().Value();
    long v = isMax ? SSL_CTX_get_max_proto_version(ctx_) : SSL_CTX_get_min_proto_version(ctx_);
    return Napi::Number::New(info.Env(), static_cast<double>(v));
  }

  void SetCiphers(const Napi::CallbackInfo& info) {
    std::string list = ArgStdString(info, 0, "setCiphers", "ciphers");
    ERR_clear_error();
    if (SSL_CTX_set_cipher_list(ctx_, list.c_str()) != 1) ThrowSsl(info.Env(), "No cipher can be selected");
  }

  void SetCiphersuites(const Napi::CallbackInfo& info) {
    std::string list = ArgStdString(info, 0, "setCiphersuites", "ciphersuites");
    ERR_clear_error();
    if (SSL_CTX_set_ciphersuites(ctx_, list.c_str()) != 1) ThrowSsl(info.Env(), "No ciphersuite can be selected");
  }

  // [[name, protocol version, bits], ...] of the enabled ciphers.
  Napi::Value GetCiphers(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    STACK_OF(SSL_CIPHER)* sk = SSL_CTX_get_ciphers(ctx_);
    Napi::Array out = Napi::Array::New(env);
    int n = sk == nullptr ? 0 : sk_SSL_CIPHER_num(sk);
    for (int i = 0; i < n; i++) {
      const SSL_CIPHER* c = sk_SSL_CIPHER_value(sk, i);
      Napi::Array row = Napi::Array::New(env, 3);
      row.Set(0u, SSL_CIPHER_get_name(c));
      row.Set(1u, SSL_CIPHER_get_version(c));
      row.Set(2u, Napi::Number::New(env, SSL_CIPHER_get_bits(c, nullptr)));
      out.Set(static_cast<uint32_t>(i), row);
    }
    return out;
  }

  // setAlpn(wire bytes): length-prefixed protocol names, in preference order.
  void SetAlpn(const Napi::CallbackInfo& info) {
    Bytes b = ArgBytes(info, 0, "setAlpn", "protocols");
    alpn_.assign(b.data, b.data + b.length);
    if (server_) {
      SSL_CTX_set_alpn_select_cb(ctx_, alpn_.empty() ? nullptr : AlpnSelect, this);
    } else if (SSL_CTX_set_alpn_protos(ctx_, alpn_.data(), static_cast<unsigned>(alpn_.size())) != 0) {
      ThrowSsl(info.Env(), "cannot set the ALPN protocols");
    }
  }

  // Server side: the first of our protocols the client offers (ours rank
  // first, as Python's and Node's servers do); none in common: no ALPN.
  static int AlpnSelect(SSL* s, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                        unsigned int inlen, void* arg) {
    SslContext* self = static_cast<SslContext*>(arg);
    unsigned char* selected = nullptr;
    int r = SSL_select_next_proto(&selected, outlen, self->alpn_.data(), static_cast<unsigned>(self->alpn_.size()),
                                  in, inlen);
    if (r != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_NOACK;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }

  void SetSni(const Napi::CallbackInfo& info) {
    bool on = info[0].ToBoolean().Value();
    SSL_CTX_set_client_hello_cb(ctx_, on ? ClientHello : nullptr, nullptr);
  }

  static int ClientHello(SSL* s, int* alert, void* arg);

  Napi::Value GetOptions(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(SSL_CTX_get_options(ctx_)));
  }

  // setOptions(bits to set, bits to clear).
  void SetOptions(const Napi::CallbackInfo& info) {
    uint64_t set = static_cast<uint64_t>(ArgInteger(info, 0, "setOptions", "set", 0, (int64_t{1} << 53) - 1));
    uint64_t clear = static_cast<uint64_t>(ArgInteger(info, 1, "setOptions", "clear", 0, (int64_t{1} << 53) - 1));
    SSL_CTX_clear_options(ctx_, clear);
    SSL_CTX_set_options(ctx_, set);
  }

  Napi::Value CaCount(const Napi::CallbackInfo& info) {
    STACK_OF(X509_OBJECT)* objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx_));
    int n = 0;
    for (int i = 0; objs != nullptr && i < sk_X509_OBJECT_num(objs); i++) {
      if (X509_OBJECT_get_type(sk_X509_OBJECT_value(objs, i)) == X509_LU_X509) n++;
    }
    return Napi::Number::New(info.Env(), n);
  }

  SSL_CTX* ctx_ = nullptr;
  bool server_ = false;
  std::vector<unsigned char> alpn_;
};

class SslConn : public Napi::ObjectWrap<SslConn> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SslConn",
                       {
                           InstanceMethod<&SslConn::Feed>("feed"),
                           InstanceMethod<&SslConn::Handshake>("handshake"),
                           InstanceMethod<&SslConn::Read>("read"),
                           InstanceMethod<&SslConn::Write>("write"),
                           InstanceMethod<&SslConn::ReadOut>("readOut"),
                           InstanceMethod<&SslConn::TakeOut>("takeOut"),
                           InstanceMethod<&SslConn::PendingOut>("pendingOut"),
                           InstanceMethod<&SslConn::PendingIn>("pendingIn"),
                           InstanceMethod<&SslConn::Pending>("pending"),
                           InstanceMethod<&SslConn::Readable>("readable"),
                           InstanceMethod<&SslConn::Shutdown>("shutdown"),
                           InstanceMethod<&SslConn::TakeError>("takeError"),
                           InstanceMethod<&SslConn::PeerCertificate>("peerCertificate"),
                           InstanceMethod<&SslConn::Cipher>("cipher"),
                           InstanceMethod<&SslConn::Version>("version"),
                           InstanceMethod<&SslConn::Alpn>("alpn"),
                           InstanceMethod<&SslConn::Servername>("servername"),
                           InstanceMethod<&SslConn::RefuseHello>("refuseHello"),
                           InstanceMethod<&SslConn::SetContext>("setContext"),
                           InstanceMethod<&SslConn::SessionReused>("sessionReused"),
                           InstanceMethod<&SslConn::IsInitFinished>("isInitFinished"),
                           InstanceMethod<&SslConn::Free>("free"),
                       });
  }

  // new SslConn(context, serverSide, serverHostname | null, checkHostname)
  SslConn(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SslConn>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "SslConn: context must be an SslContext");
    SslContext* ctx = SslContext::Unwrap(info[0].As<Napi::Object>());
    bool server = info[1].ToBoolean().Value();
    ERR_clear_error();
    ssl_ = SSL_new(ctx->ctx());
    if (ssl_ == nullptr) ThrowSsl(env, "SSL_new failed");
    BIO* in = NewQueueBio();
    BIO* out = NewQueueBio();
    if (in == nullptr || out == nullptr) {
      BIO_free(in);
      BIO_free(out);
      SSL_free(ssl_);
      ssl_ = nullptr;
      ThrowSsl(env, "BIO_new failed");
    }
    SSL_set_bio(ssl_, in, out);
    in_ = in;
    out_ = out;
    SSL_set_app_data(ssl_, this);
    contexts_.push_back(Napi::Persistent(info[0].As<Napi::Object>()));
    if (server) {
      SSL_set_accept_state(ssl_);
    } else {
      SSL_set_connect_state(ssl_);
      if (info[2].IsString()) {
        std::string host = info[2].As<Napi::String>().Utf8Value();
        bool check = info[3].ToBoolean().Value();
        ASN1_OCTET_STRING* ip = a2i_IPADDRESS(host.c_str());
        bool isIp = ip != nullptr;
        ASN1_OCTET_STRING_free(ip);
        ERR_clear_error();
        // No SNI for an IP address (RFC 6066 3).
        if (!isIp && !host.empty() && SSL_set_tlsext_host_name(ssl_, host.c_str()) != 1) {
          ThrowSsl(env, "invalid server hostname");
        }
        if (check) {
          X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
          X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
          int ok = isIp ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                        : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
          if (ok != 1) ThrowSsl(env, "invalid server hostname");
        }
      }
    }
  }

  ~SslConn() override { Release(); }

  std::string helloName_;
  bool helloDone_ = false;
  int helloAlert_ = -1;  // the SNI callback's refusal: the alert the next handshake() sends

 private:
  void Release() {
    if (ssl_ != nullptr) {
      SSL_free(ssl_);  // frees both BIOs
      ssl_ = nullptr;
      in_ = out_ = nullptr;
    }
  }

  void Check(Napi::Env env) {
    if (ssl_ == nullptr) throw Napi::Error::New(env, "SSL object already freed");
  }

  // A failed call: SSL_get_error's code as a negative number; SSL and
  // SYSCALL failures keep their details for takeError().
  int Fail(int ret) {
    int code = SSL_get_error(ssl_, ret);
    if (code == SSL_ERROR_SSL || code == SSL_ERROR_SYSCALL) {
      failure_ = TakeQueue(code == SSL_ERROR_SSL ? "SSL error" : "EOF occurred in violation of protocol");
      failure_.sslError = code;
      failure_.verifyCode = SSL_get_verify_result(ssl_);
      // A verify code is only the cause when the handshake failed on it.
      if (!(failure_.lib == ERR_LIB_SSL && ERR_GET_REASON(lastError_) == SSL_R_CERTIFICATE_VERIFY_FAILED)) {
        failure_.verifyCode = X509_V_OK;
      }
    }
    return -code;
  }

  Napi::Value Feed(const Napi::CallbackInfo& info) {
    Check(info.Env());
    Bytes b = ArgByteRange(info, 0, "feed");
    if (b.length == 0) return Napi::Number::New(info.Env(), 0);
    int n = BIO_write(in_, b.data, static_cast<int>(b.length));
    return Napi::Number::New(info.Env(), n < 0 ? 0 : n);
  }

  Napi::Value Handshake(const Napi::CallbackInfo& info) {
    Check(info.Env());
    ERR_clear_error();
    int r = SSL_do_handshake(ssl_);
    lastError_ = ERR_peek_last_error();
    return Napi::Number::New(info.Env(), r == 1 ? 0 : Fail(r));
  }

  // read(buf, offset, length): bytes decrypted into buf, or a negative code.
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Check(info.Env());
    Bytes b = ArgByteRange(info, 0, "read");
    ERR_clear_error();
    size_t n = 0;
    int r = SSL_read_ex(ssl_, b.data, b.length, &n);
    if (r == 1) return Napi::Number::New(info.Env(), static_cast<double>(n));
    lastError_ = ERR_peek_last_error();
    return Napi::Number::New(info.Env(), Fail(r));
  }

  // write(buf, offset, length): plaintext bytes taken (all of them once the
  // handshake is done: the outgoing BIO grows), or a negative code.
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Check(info.Env());
    Bytes b = ArgByteRange(info, 0, "write");
    if (b.length == 0) return Napi::Number::New(info.Env(), 0);
    ERR_clear_error();
    size_t n = 0;
    int r = SSL_write_ex(ssl_, b.data, b.length, &n);
    if (r == 1) return Napi::Number::New(info.Env(), static_cast<double>(n));
    lastError_ = ERR_peek_last_error();
    return Napi::Number::New(info.Env(), Fail(r));
  }

  // readOut(buf, offset, length): ciphertext to send, copied into buf; 0 if none.
  Napi::Value ReadOut(const Napi::CallbackInfo& info) {
    Check(info.Env());
    Bytes b = ArgByteRange(info, 0, "readOut");
    if (b.length == 0) return Napi::Number::New(info.Env(), 0);
    int n = BIO_read(out_, b.data, static_cast<int>(b.length > INT32_MAX ? INT32_MAX : b.length));
    return Napi::Number::New(info.Env(), n < 0 ? 0 : n);
  }

  // takeOut(): all the ciphertext to send as a new Buffer, or null if none.
  Napi::Value TakeOut(const Napi::CallbackInfo& info) {
    Check(info.Env());
    size_t len = 0;
    const char* data = QueueBioData(out_, &len);
    if (len == 0) return info.Env().Null();
    Napi::Buffer<char> buf = Napi::Buffer<char>::Copy(info.Env(), data, len);
    QueueBioClear(out_);
    return buf;
  }

  Napi::Value PendingOut(const Napi::CallbackInfo& info) {
    Check(info.Env());
    return Napi::Number::New(info.Env(), static_cast<double>(BIO_ctrl_pending(out_)));
  }

  Napi::Value PendingIn(const Napi::CallbackInfo& info) {
    Check(info.Env());
    return Napi::Number::New(info.Env(), static_cast<double>(BIO_ctrl_pending(in_)));
  }

  // Decrypted bytes buffered inside OpenSSL (a record read only in part).
  Napi::Value Pending(const Napi::CallbackInfo& info) {
    Check(info.Env());
    return Napi::Number::New(info.Env(), SSL_pending(ssl_));
  }

  // A bound on the plaintext a read may produce now: ciphertext in the BIO
  // plus decrypted bytes not read yet; OpenSSL may also hold whole records it
  // read ahead from the BIO (SSL_has_pending), up to one record each.
  Napi::Value Readable(const Napi::CallbackInfo& info) {
    Check(info.Env());
    size_t n = BIO_ctrl_pending(in_) + static_cast<size_t>(SSL_pending(ssl_));
    if (SSL_has_pending(ssl_)) n += SSL3_RT_MAX_PLAIN_LENGTH;
    return Napi::Number::New(info.Env(), static_cast<double>(n));
  }

  // shutdown(): 1 when both close_notify alerts are done, 0 when ours is
  // queued, or a negative code.
  Napi::Value Shutdown(const Napi::CallbackInfo& info) {
    Check(info.Env());
    ERR_clear_error();
    int r = SSL_shutdown(ssl_);
    if (r >= 0) return Napi::Number::New(info.Env(), r);
    lastError_ = ERR_peek_last_error();
    return Napi::Number::New(info.Env(), Fail(r));
  }

  Napi::Value TakeError(const Napi::CallbackInfo& info) {
    if (!failure_.set) return info.Env().Null();
    Napi::Object o = FailureObject(info.Env(), failure_);
    failure_ = SslFailure();
    return o;
  }

  // The peer's certificate (DER), or null.
  Napi::Value PeerCertificate(const Napi::CallbackInfo& info) {
    Check(info.Env());
    X509* cert = SSL_get_peer_certificate(ssl_);
    if (cert == nullptr) return info.Env().Null();
    unsigned char* der = nullptr;
    int len = i2d_X509(cert, &der);
    X509_free(cert);
    if (len <= 0) return info.Env().Null();
    Napi::Buffer<unsigned char> buf = Napi::Buffer<unsigned char>::Copy(info.Env(), der, static_cast<size_t>(len));
    OPENSSL_free(der);
    return buf;
  }

  // [name, protocol version, secret bits], or null before the handshake.
  Napi::Value Cipher(const Napi::CallbackInfo& info) {
    Check(info.Env());
    const SSL_CIPHER* c = SSL_get_current_cipher(ssl_);
    if (c == nullptr) return info.Env().Null();
    Napi::Array row = Napi::Array::New(info.Env(), 3);
    row.Set(0u, SSL_CIPHER_get_name(c));
    row.Set(1u, SSL_CIPHER_get_version(c));
    row.Set(2u, Napi::Number::New(info.Env(), SSL_CIPHER_get_bits(c, nullptr)));
    return row;
  }

  Napi::Value Version(const Napi::CallbackInfo& info) {
    Check(info.Env());
    if (!SSL_is_init_finished(ssl_)) return info.Env().Null();
    return Napi::String::New(info.Env(), SSL_get_version(ssl_));
  }

  Napi::Value Alpn(const Napi::CallbackInfo& info) {
    Check(info.Env());
    const unsigned char* data = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl_, &data, &len);
    if (data == nullptr || len == 0) return info.Env().Null();
    return Napi::String::New(info.Env(), reinterpret_cast<const char*>(data), len);
  }

  // The name the client asked for: while the handshake waits in the client
  // hello (SNI), the one just parsed; later OpenSSL's.
  Napi::Value Servername(const Napi::CallbackInfo& info) {
    Check(info.Env());
    if (helloDone_ && !SSL_is_init_finished(ssl_)) {
      if (helloName_.empty()) return info.Env().Null();
      return Napi::String::New(info.Env(), helloName_);
    }
    const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
    if (name == nullptr) return info.Env().Null();
    return Napi::String::New(info.Env(), name);
  }

  // refuseHello(alert): the SNI callback refused the handshake. The next
  // handshake() fails in the client hello with this TLS alert, which goes out
  // with the rest of the ciphertext, so the client learns why.
  void RefuseHello(const Napi::CallbackInfo& info) {
    Check(info.Env());
    int alert = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : -1;
    if (alert < 0 || alert > 255) throw Napi::RangeError::New(info.Env(), "refuseHello: a TLS alert (0-255) is required");
    helloAlert_ = alert;
  }

  // Switch to another context (SNI), keeping it alive with this connection.
  void SetContext(const Napi::CallbackInfo& info) {
    Check(info.Env());
    if (!info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "setContext: an SslContext is required");
    SslContext* ctx = SslContext::Unwrap(info[0].As<Napi::Object>());
    if (SSL_set_SSL_CTX(ssl_, ctx->ctx()) == nullptr) ThrowSsl(info.Env(), "cannot switch the SSL context");
    contexts_.push_back(Napi::Persistent(info[0].As<Napi::Object>()));
  }

  Napi::Value SessionReused(const Napi::CallbackInfo& info) {
    Check(info.Env());
    return Napi::Boolean::New(info.Env(), SSL_session_reused(ssl_) == 1);
  }

  Napi::Value IsInitFinished(const Napi::CallbackInfo& info) {
    Check(info.Env());
    return Napi::Boolean::New(info.Env(), SSL_is_init_finished(ssl_) == 1);
  }

  // Free the SSL now (connection closed) rather than at garbage collection.
  void Free(const Napi::CallbackInfo& info) {
    Release();
    contexts_.clear();
  }

  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;
  BIO* out_ = nullptr;
  unsigned long lastError_ = 0;
  SslFailure failure_;
  // The contexts the SSL points to (their ALPN callback data lives there).
  std::vector<Napi::ObjectReference> contexts_;
};

// The client hello of a server with an SNI callback: record the name and
// suspend; the second call (after the TypeScript side chose a context) goes on.
int SslContext::ClientHello(SSL* s, int* alert, void* arg) {
  SslConn* conn = static_cast<SslConn*>(SSL_get_app_data(s));
  if (conn != nullptr && conn->helloAlert_ >= 0) {
    *alert = conn->helloAlert_;
    return SSL_CLIENT_HELLO_ERROR;
  }
  if (conn == nullptr || conn->helloDone_) return SSL_CLIENT_HELLO_SUCCESS;
  conn->helloDone_ = true;
  conn->helloName_.clear();
  const unsigned char* p = nullptr;
  size_t len = 0;
  // server_name: list length (2), then entries of type (1), length (2), name.
  if (SSL_client_hello_get0_ext(s, TLSEXT_TYPE_server_name, &p, &len) == 1 && len >= 5) {
    size_t list = (static_cast<size_t>(p[0]) << 8) | p[1];
    if (list + 2 <= len && list >= 3 && p[2] == TLSEXT_NAMETYPE_host_name) {
      size_t n = (static_cast<size_t>(p[3]) << 8) | p[4];
      if (5 + n <= len && n > 0 && std::memchr(p + 5, 0, n) == nullptr) {
        conn->helloName_.assign(reinterpret_cast<const char*>(p + 5), n);
      }
    }
  }
  return SSL_CLIENT_HELLO_RETRY;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("SslContext", SslContext::Define(env));
  exports.Set("SslConn", SslConn::Define(env));
  exports.Set("OPENSSL_VERSION", Napi::String::New(env, OpenSSL_version(OPENSSL_VERSION)));
  exports.Set("OPENSSL_VERSION_NUMBER", Napi::Number::New(env, static_cast<double>(OpenSSL_version_num())));
  Napi::Object v = Napi::Object::New(env);
  v.Set("TLS1", Napi::Number::New(env, TLS1_VERSION));
  v.Set("TLS1_1", Napi::Number::New(env, TLS1_1_VERSION));
  v.Set("TLS1_2", Napi::Number::New(env, TLS1_2_VERSION));
  v.Set("TLS1_3", Napi::Number::New(env, TLS1_3_VERSION));
  exports.Set("versions", v);
  Napi::Object o = Napi::Object::New(env);
  o.Set("NO_TLSv1", Napi::Number::New(env, static_cast<double>(SSL_OP_NO_TLSv1)));
  o.Set("NO_TLSv1_1", Napi::Number::New(env, static_cast<double>(SSL_OP_NO_TLSv1_1)));
  o.Set("NO_TLSv1_2", Napi::Number::New(env, static_cast<double>(SSL_OP_NO_TLSv1_2)));
  o.Set("NO_TLSv1_3", Napi::Number::New(env, static_cast<double>(SSL_OP_NO_TLSv1_3)));
  o.Set("NO_COMPRESSION", Napi::Number::New(env, static_cast<double>(SSL_OP_NO_COMPRESSION)));
  o.Set("NO_TICKET", Napi::Number::New(env, static_cast<double>(SSL_OP_NO_TICKET)));
  o.Set("NO_RENEGOTIATION", Napi::Number::New(env, static_cast<double>(SSL_OP_NO_RENEGOTIATION)));
  o.Set("CIPHER_SERVER_PREFERENCE", Napi::Number::New(env, static_cast<double>(SSL_OP_CIPHER_SERVER_PREFERENCE)));
  o.Set("IGNORE_UNEXPECTED_EOF", Napi::Number::New(env, static_cast<double>(SSL_OP_IGNORE_UNEXPECTED_EOF)));
  exports.Set("options", o);
  return exports;
}

}  // namespace
}  // namespace coio

static Napi::Object InitCoioTls(Napi::Env env, Napi::Object exports) {
  return coio::Init(env, exports);
}

NODE_API_MODULE(coio_tls, InitCoioTls)
