//! The main demo: libc's `qsort` takes a comparator with no context pointer, so a comparator
//! that depends on run-time state (a sort key chosen at run time, a comparison counter) cannot
//! be written as a plain `extern "C" fn`. A `BareFnMut` makes a closure into one.
//!
//! Run: `cargo run --example qsort`.

use closure_ffi::BareFnMut;
use std::ffi::{c_int, c_void};

extern "C" {
    fn qsort(
        base: *mut c_void,
        count: usize,
        size: usize,
        compare: unsafe extern "C" fn(*const c_void, *const c_void) -> c_int,
    );
}

#[derive(Debug)]
#[repr(C)]
struct City {
    name: &'static str,
    population: u32,
    area_km2: u32,
}

fn main() {
    let mut cities = [
        City {
            name: "Lyon",
            population: 522_000,
            area_km2: 48,
        },
        City {
            name: "Bordeaux",
            population: 261_000,
            area_km2: 49,
        },
        City {
            name: "Nantes",
            population: 323_000,
            area_km2: 65,
        },
        City {
            name: "Lille",
            population: 236_000,
            area_km2: 35,
        },
    ];

    // Chosen at run time: the comparator closes over it.
    let by_density = std::env::args().nth(1).as_deref() != Some("population");
    let mut comparisons = 0u32;

    let compare = BareFnMut::new_c(|a: *const c_void, b: *const c_void| -> c_int {
        comparisons += 1;
        // SAFETY: qsort passes pointers to elements of `cities`.
        let (a, b) = unsafe { (&*a.cast::<City>(), &*b.cast::<City>()) };
        let key = |c: &City| {
            if by_density {
                c.population / c.area_km2
            } else {
                c.population
            }
        };
        key(b).cmp(&key(a)) as c_int
    });

    // SAFETY: `cities` is a valid array of `City`; the comparator is alive during the call.
    unsafe {
        qsort(
            cities.as_mut_ptr().cast(),
            cities.len(),
            size_of::<City>(),
            compare.bare(),
        );
    }
    drop(compare);

    println!(
        "sorted by {}:",
        if by_density { "density" } else { "population" }
    );
    for c in &cities {
        println!(
            "  {:<9} {:>7} people  {:>5} per km2",
            c.name,
            c.population,
            c.population / c.area_km2
        );
    }
    println!("{comparisons} comparisons, each through a closure behind a bare fn pointer");
}
