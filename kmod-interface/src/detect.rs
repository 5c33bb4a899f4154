//! Is the change-tracking module loaded? (`/proc/modules`, as `lsmod` reads it.)

use crate::abi::MODULE_NAME;

/// One line of `/proc/modules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    pub name: String,
    pub size: u64,
    pub refcount: u32,
    /// `Live`, `Loading` or `Unloading`.
    pub state: String,
}

/// Parses the text of `/proc/modules`; malformed lines are skipped.
pub fn parse_proc_modules(text: &str) -> Vec<ModuleInfo> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let name = f.next()?.to_owned();
            let size = f.next()?.parse().ok()?;
            let refcount = f.next()?.parse().ok()?;
            let _deps = f.next()?;
            let state = f.next()?.to_owned();
            Some(ModuleInfo {
                name,
                size,
                refcount,
                state,
            })
        })
        .collect()
}

/// The Holdfast module as `/proc/modules` lists it, if it is loaded and live.
pub fn find_module(modules: &[ModuleInfo]) -> Option<&ModuleInfo> {
    modules
        .iter()
        .find(|m| m.name == MODULE_NAME && m.state == "Live")
}

/// Reads `/proc/modules` and reports whether the Holdfast module is loaded and live.
/// An unreadable `/proc/modules` (e.g. in a container) counts as "not loaded".
pub fn module_loaded() -> bool {
    std::fs::read_to_string("/proc/modules")
        .map(|t| find_module(&parse_proc_modules(&t)).is_some())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
nf_tables 356352 0 - Live 0x0000000000000000
holdfast_cbt 45056 2 - Live 0x0000000000000000 (OE)
dm_mod 184320 5 dm_log,dm_mirror, Live 0x0000000000000000
broken line
loop 40960 0 - Unloading 0x0000000000000000
";

    #[test]
    fn parses_lines_and_finds_the_module() {
        let mods = parse_proc_modules(SAMPLE);
        assert_eq!(mods.len(), 4);
        assert_eq!(mods[2].name, "dm_mod");
        assert_eq!(mods[2].refcount, 5);
        let m = find_module(&mods).unwrap();
        assert_eq!(m.size, 45056);
        assert_eq!(m.refcount, 2);
    }

    #[test]
    fn a_module_that_is_not_live_is_not_loaded() {
        let mods = parse_proc_modules("holdfast_cbt 45056 0 - Unloading 0x0\n");
        assert!(find_module(&mods).is_none());
        assert!(find_module(&parse_proc_modules("")).is_none());
    }

    #[test]
    fn reading_the_real_proc_modules_does_not_fail() {
        // This machine does not have the module; the call must answer, not error.
        let _ = module_loaded();
    }
}
