use super::*;

#[test]
fn subscription_urls() {
    let long_path = format!("https://nb.example/{}", "a".repeat(240));
    for (id, url, ok) in [
        ("cb", "https://nb.example/callback", true),
        ("cb", "https://nb.example:8443/a/b", true),
        ("cb", "https://8.8.8.8/cb", true),
        ("cb", "https://[2001:db8::1]/cb", true),
        ("cb", "http://nb.example/cb", false),
        ("cb", "https://nb.example/cb?x=1", false),
        ("cb", "https://nb.example/cb?", false),
        ("cb", "https://user:pw@nb.example/cb", false),
        ("cb", "not a url", false),
        ("cb", "https://", false),
        ("cb", long_path.as_str(), false),
        ("", "https://nb.example/cb", false),
        ("123456789012345678901234567890123", "https://nb.example/cb", false),
        ("12345678901234567890123456789012", "https://nb.example/cb", true),
        ("cb", "https://10.1.2.3/cb", false),
        ("cb", "https://127.0.0.1/cb", false),
        ("cb", "https://0177.0.0.1/cb", false),
        ("cb", "https://0x7f000001/cb", false),
        ("cb", "https://2130706433/cb", false),
        ("cb", "https://100.64.0.1/cb", false),
        ("cb", "https://100.127.255.255/cb", false),
        ("cb", "https://100.128.0.1/cb", true),
        ("cb", "https://169.254.169.254/cb", false),
        ("cb", "https://172.16.0.1/cb", false),
        ("cb", "https://172.31.255.255/cb", false),
        ("cb", "https://172.32.0.1/cb", true),
        ("cb", "https://192.168.1.1/cb", false),
        ("cb", "https://0.0.0.0/cb", false),
        ("cb", "https://[::1]/cb", false),
        ("cb", "https://[::]/cb", false),
        ("cb", "https://[fc00::1]/cb", false),
        ("cb", "https://[fd12::1]/cb", false),
        ("cb", "https://[fe80::1]/cb", false),
        ("cb", "https://[::ffff:10.0.0.1]/cb", false),
        ("cb", "https://[::ffff:7f00:1]/cb", false),
        ("cb", "https://[64:ff9b::7f00:1]/cb", false),
        ("cb", "https://[ff02::1]/cb", false),
        ("cb", "https://224.0.0.1/cb", false),
        ("cb", "https://255.255.255.255/cb", false),
        ("cb", "https://localhost:8443/cb", false),
        ("cb", "https://LocalHost/cb", false),
        ("cb", "https://localhost./cb", false),
        ("cb", "https://api.localhost/cb", false),
        ("cb", "https://localhost.example/cb", true),
    ] {
        assert_eq!(validate_subscription(id, url, false).is_ok(), ok, "{id:?} {url}");
    }
    assert_eq!(
        validate_subscription("cb", "https://localhost:8443/cb", false),
        Err(CallbackUrlError::LocalhostName)
    );
    assert_eq!(
        validate_subscription("cb", "https://[::1]/cb", false),
        Err(CallbackUrlError::PrivateAddress)
    );
    for allowed in ["https://127.0.0.1:1234/cb", "https://localhost:8443/cb", "https://[::1]/cb"] {
        assert!(validate_subscription("cb", allowed, true).is_ok(), "{allowed}");
    }
    assert!(validate_subscription("cb", "http://127.0.0.1/cb", true).is_err());
}
