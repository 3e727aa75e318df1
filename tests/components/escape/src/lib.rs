//! `escape`: tries to reach outside the sandbox through WASI (tests only). Its imports of the
//! filesystem, sockets and clocks are refused when the host loads it.

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "strategy",
});

struct Escape;

impl Guest for Escape {
    fn name() -> String {
        env!("CARGO_PKG_NAME").to_string()
    }

    fn display_name() -> String {
        "Tries to escape (tests only)".to_string()
    }

    fn request_new_batch_count(_request: BatchRequest) -> Result<u32, String> {
        let secrets = std::fs::read_to_string("/etc/passwd").map_err(|error| error.to_string())?;
        let _ = std::net::TcpStream::connect("127.0.0.1:5432");
        let now = std::time::SystemTime::now();
        Ok((secrets.len() as u32).wrapping_add(now.elapsed().map(|e| e.as_secs() as u32).unwrap_or(0)))
    }

    fn select_contacts(_request: BatchRequest, _plan: BatchPlan) -> Result<ContactSelection, String> {
        Ok(ContactSelection {
            batch_query: None,
            has_current_query: None,
        })
    }
}

export!(Escape);
