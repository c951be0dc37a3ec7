//! Theming: an app's brand, a flow's or link's override, and the host page's
//! `appearance` allowlist, resolved into CSS variables for the widget. The server
//! validates brands with the same rules, so what is stored is what renders.

use serde_json::Value;

/// Light, dark, or the payee's system setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scheme {
    #[default]
    Auto,
    Light,
    Dark,
}

impl Scheme {
    pub fn parse(s: &str) -> Option<Scheme> {
        match s {
            "auto" => Some(Scheme::Auto),
            "light" => Some(Scheme::Light),
            "dark" => Some(Scheme::Dark),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Auto => "auto",
            Scheme::Light => "light",
            Scheme::Dark => "dark",
        }
    }
}

/// The largest corner radius a brand may ask for, in pixels.
pub const MAX_RADIUS_PX: u64 = 24;

/// `#rrggbb`.
pub fn is_color(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// A font-family list: letters, digits, spaces, commas, dashes and quotes; no
/// semicolons, braces or `url(`, so it cannot escape its declaration.
pub fn is_font_family(s: &str) -> bool {
    !s.trim().is_empty()
        && s.len() <= 100
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | ',' | '-' | '\'' | '"'))
}

/// An https image URL without characters that could break out of an attribute.
pub fn is_logo_url(s: &str) -> bool {
    s.starts_with("https://") && s.len() <= 500 && !s.contains(['"', '\'', '<', '>', ' ', '(', ')', '\\'])
}

/// A brand or appearance, resolved. Unknown or invalid keys are ignored here (the
/// server refuses them when a brand is stored; a host's appearance is advisory).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Theme {
    pub name: Option<String>,
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
    pub background_color: Option<String>,
    pub text_color: Option<String>,
    pub font_family: Option<String>,
    pub radius_px: Option<u64>,
    pub scheme: Scheme,
}

impl Theme {
    /// Layers a stored brand (`{name, primary_color, …, color_scheme}`) over this one.
    pub fn with_brand(mut self, brand: &Value) -> Theme {
        let text = |key: &str, ok: fn(&str) -> bool| brand[key].as_str().filter(|s| ok(s)).map(str::to_string);
        self.name = text("name", |s| !s.is_empty() && s.chars().count() <= 60).or(self.name);
        self.logo_url = text("logo_url", is_logo_url).or(self.logo_url);
        self.primary_color = text("primary_color", is_color).or(self.primary_color);
        self.background_color = text("background_color", is_color).or(self.background_color);
        self.text_color = text("text_color", is_color).or(self.text_color);
        self.font_family = text("font_family", is_font_family).or(self.font_family);
        self.radius_px = brand["corner_radius"].as_u64().filter(|r| *r <= MAX_RADIUS_PX).or(self.radius_px);
        self.scheme = brand["color_scheme"].as_str().and_then(Scheme::parse).unwrap_or(self.scheme);
        self
    }

    /// Layers the host page's `appearance` (Stripe-style names) over this one.
    pub fn with_appearance(self, appearance: &Value) -> Theme {
        // Not `json!`: it serialises each value, which brings serde_json's
        // serializer and its error messages into the widget.
        let renamed = [
            ("primary_color", "colorPrimary"),
            ("background_color", "colorBackground"),
            ("text_color", "colorText"),
            ("font_family", "fontFamily"),
            ("corner_radius", "borderRadius"),
            ("color_scheme", "theme"),
        ]
        .into_iter()
        .map(|(ours, theirs)| (ours.to_string(), appearance[theirs].clone()))
        .collect();
        self.with_brand(&Value::Object(renamed))
    }

    /// `(name, value)` pairs for `style.setProperty`.
    pub fn css_variables(&self) -> Vec<(&'static str, String)> {
        let mut vars = Vec::new();
        let mut push = |name, value: &Option<String>| {
            if let Some(v) = value {
                vars.push((name, v.clone()));
            }
        };
        push("--dots-primary", &self.primary_color);
        push("--dots-bg", &self.background_color);
        push("--dots-text", &self.text_color);
        push("--dots-font", &self.font_family);
        if let Some(r) = self.radius_px {
            vars.push(("--dots-radius", format!("{r}px")));
        }
        vars
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_host_appearance_overrides_the_brand_within_the_allowlist() {
        let brand = json!({"name": "Acme", "primary_color": "#112233", "corner_radius": 8, "color_scheme": "light"});
        let appearance = json!({"colorPrimary": "#abcdef", "borderRadius": 99, "theme": "dark", "fontFamily": "x;}"});
        let theme = Theme::default().with_brand(&brand).with_appearance(&appearance);
        assert_eq!(theme.primary_color.as_deref(), Some("#abcdef"));
        assert_eq!(theme.radius_px, Some(8), "a radius over the limit is ignored");
        assert_eq!(theme.font_family, None, "a font that could escape its declaration is ignored");
        assert_eq!(theme.scheme, Scheme::Dark);
        assert_eq!(theme.name.as_deref(), Some("Acme"));
        assert!(theme.css_variables().contains(&("--dots-radius", "8px".into())));
    }

    #[test]
    fn validators_refuse_what_could_inject() {
        assert!(is_color("#A0b1C2") && !is_color("red") && !is_color("#12345g"));
        assert!(is_font_family("'Inter', system-ui, sans-serif"));
        assert!(!is_font_family("a;background:url(x)") && !is_font_family("a{}"));
        assert!(is_logo_url("https://cdn.example.com/logo.png"));
        assert!(!is_logo_url("http://x.com/a.png") && !is_logo_url("https://x.com/a\".png"));
    }
}
